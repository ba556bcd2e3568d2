/**
 * The observer's verdict on one status claim message (docs/protocol.md section 5): accepted, or
 * rejected with the first failing of ten reasons.
 */
import { hlcPhysicalMs } from '../clock/hlc';
import { decodeStrictBase64, encodeBase64 } from '../crypto/base64';
import { isUint8Array } from '../crypto/bytes';
import { sha256Base64 } from '../crypto/sha256';
import { verifyBytes } from '../crypto/signature';
import { headerValues, type HeadersLike } from '../protocol/headers';
import { StatusClaimSchema, type StatusClaim } from '../protocol/status-claim';
import { parseStatusSubject } from '../protocol/subjects';
import { MAX_PAYLOAD_BYTES } from '../protocol/text';
import type { ReplayMemory } from './replay-memory';

/**
 * Why an observer refuses a claim, in the order the checks run: every {@link StatusRejectReason}.
 *
 * @example
 * ```ts
 * const counts = Object.fromEntries(STATUS_REJECT_REASONS.map((reason) => [reason, 0]));
 * ```
 */
export const STATUS_REJECT_REASONS = [
  'schema',
  'subject-mismatch',
  'header-mismatch',
  'unsigned',
  'untrusted-key',
  'bad-signature',
  'clock-skew',
  'stale',
  'duplicate',
  'replay',
] as const;

/**
 * Why an observer refused a claim (docs/protocol.md section 5): `'schema'`, `'subject-mismatch'`,
 * `'header-mismatch'`, `'unsigned'`, `'untrusted-key'`, `'bad-signature'`, `'clock-skew'`,
 * `'stale'`, `'duplicate'` or `'replay'`.
 *
 * @example
 * ```ts
 * const rejected = new Map<StatusRejectReason, number>();
 * client.statusClaims$().subscribe((verdict) => {
 *   if (!verdict.ok) rejected.set(verdict.reason, (rejected.get(verdict.reason) ?? 0) + 1);
 * });
 * ```
 */
export type StatusRejectReason = (typeof STATUS_REJECT_REASONS)[number];

/**
 * The observer's verdict on one claim message: the accepted claim, or why it was refused.
 *
 * @example
 * ```ts
 * client.statusClaims$().subscribe((verdict: StatusVerdict) =>
 *   verdict.ok ? board.update(verdict.claim) : log.debug({ reason: verdict.reason, subject: verdict.subject }),
 * );
 * ```
 */
export type StatusVerdict =
  | { readonly ok: true; readonly claim: StatusClaim }
  | { readonly ok: false; readonly reason: StatusRejectReason; readonly subject: string };

/**
 * A claim message: a nats `Msg`, or the same fields by hand (`headers` as a plain record, names
 * in any case; `data` as bytes, or a string taken as its UTF-8 bytes).
 *
 * @example
 * ```ts
 * const message: StatusMessage = {
 *   subject: 'backbeat.chorus-dev.status.my-service',
 *   data: JSON.stringify(claim),
 *   headers: { 'X-Agent-Id': 'my-service' },
 * };
 * of(message).pipe(verifyStatus({ requireSignature: false })).subscribe(console.log);
 * ```
 */
export interface StatusMessage {
  /** The subject it arrived on, `backbeat.<cluster>.status.<agent>`. */
  readonly subject: string;
  /** The payload: the claim's JSON, as bytes or as a string. */
  readonly data: Uint8Array | string;
  /** Its headers: nats `MsgHdrs`, or a record of names (any case) to a value or values. */
  readonly headers?: HeadersLike;
}

/** What the observer checks claims against; built once per operator from its options. */
export interface ClaimPolicy {
  /** Agent id → the canonical base64 of each public key trusted for it (never empty). */
  readonly trustedKeys: ReadonlyMap<string, ReadonlySet<string>>;
  readonly requireSignature: boolean;
  readonly maxClockSkewMs: number;
  readonly maxClaimAgeMs: number;
  /** The observer's wall clock, ms since the epoch. */
  readonly physicalNow: () => number;
}

/** The claim headers the protocol names: each may appear at most once (docs/protocol.md section 1). */
const CLAIM_HEADERS = [
  'x-agent-id',
  'x-window-id',
  'x-hlc',
  'nats-msg-id',
  'x-signature',
  'x-public-key',
] as const;

const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;

/** Strict UTF-8: invalid sequences are refused, and a byte order mark stays (and is not JSON). */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** The claim headers, each read once; a value is undefined when the header is absent. */
type ClaimHeaders = Readonly<Record<(typeof CLAIM_HEADERS)[number], string | undefined>>;

/**
 * Judges one claim message. Pure but for `memory`, which it updates only on acceptance.
 *
 * @example
 * const verdict = judgeClaim(msg, policy, new ReplayMemory(policy.maxClaimAgeMs));
 * if (!verdict.ok) metrics.rejected[verdict.reason]++;
 * @param message The message; anything at all is judged, never thrown on.
 * @param policy Trusted keys, signature requirement, skew and age limits, clock.
 * @param memory The subscription's replay memory.
 */
export function judgeClaim(
  message: unknown,
  policy: ClaimPolicy,
  memory: ReplayMemory,
): StatusVerdict {
  let subject = '';
  try {
    subject = readSubject(message);
    return judgeFields(message as StatusMessage, subject, policy, memory);
  } catch {
    // Throwing getters, proxies, a broken clock: junk is a schema failure, never an error.
    return { ok: false, reason: 'schema', subject };
  }
}

function judgeFields(
  message: StatusMessage,
  subject: string,
  policy: ClaimPolicy,
  memory: ReplayMemory,
): StatusVerdict {
  const reject = (reason: StatusRejectReason): StatusVerdict => ({ ok: false, reason, subject });

  const payload = parsePayload(message.data);
  if (payload === null) return reject('schema');
  const { bytes, claim } = payload;

  const named = parseStatusSubject(subject);
  if (named?.clusterId !== claim.cluster_id || named.agentId !== claim.agent_id) {
    return reject('subject-mismatch');
  }

  const headers = readClaimHeaders(message.headers);
  if (
    headers === null ||
    headers['x-agent-id'] !== claim.agent_id ||
    headers['x-window-id'] !== claim.window_id ||
    headers['x-hlc'] !== claim.hlc
  ) {
    return reject('header-mismatch');
  }

  const signatureFailure = judgeSignature(headers, bytes, claim.agent_id, policy);
  if (signatureFailure !== null) return reject(signatureFailure);

  const nowMs = policy.physicalNow();
  // The schema guarantees a well-formed stamp.
  const physicalMs = hlcPhysicalMs(claim.hlc)!;
  if (physicalMs - nowMs > policy.maxClockSkewMs) return reject('clock-skew');
  if (nowMs - physicalMs > policy.maxClaimAgeMs) return reject('stale');

  // Ids are tokens (no space), so this key names one agent of one cluster.
  const agentKey = `${claim.cluster_id} ${claim.agent_id}`;
  const last = memory.last(agentKey);
  const digest = digestOf(bytes);
  if (last !== undefined) {
    if (claim.hlc === last.hlc && digest === last.digest) return reject('duplicate');
    if (claim.hlc <= last.hlc) return reject('replay');
  }
  memory.remember(agentKey, { hlc: claim.hlc, physicalMs, digest }, nowMs);
  return { ok: true, claim };
}

/** The message's subject, or '' when it has none (the rejection still names something). */
function readSubject(message: unknown): string {
  if (typeof message !== 'object' || message === null) return '';
  const subject = (message as { subject?: unknown }).subject;
  return typeof subject === 'string' ? subject : '';
}

/** Rule 1: the payload's bytes and its claim, or null when it is not a valid claim. */
function parsePayload(data: unknown): { bytes: Uint8Array; claim: StatusClaim } | null {
  let bytes: Uint8Array;
  if (isUint8Array(data)) bytes = data;
  // Every UTF-16 code unit takes at least one UTF-8 byte: a long string is too large unencoded.
  else if (typeof data === 'string' && data.length <= MAX_PAYLOAD_BYTES)
    bytes = utf8Encoder.encode(data);
  else return null;
  if (bytes.length > MAX_PAYLOAD_BYTES) return null;
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(bytes));
  } catch {
    return null;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return null;
  const parsed = StatusClaimSchema.safeParse(json);
  return parsed.success ? { bytes, claim: parsed.data } : null;
}

/**
 * Rule 3's input: each protocol header's one value, or null when any of them is given twice,
 * is not a string, or the headers cannot be read, or an identity header is missing.
 */
function readClaimHeaders(headers: unknown): ClaimHeaders | null {
  const found: Partial<Record<(typeof CLAIM_HEADERS)[number], string>> = {};
  try {
    for (const name of CLAIM_HEADERS) {
      const values: unknown[] = headerValues(headers as HeadersLike | undefined, name);
      if (values.length > 1) return null;
      const [value] = values;
      if (value === undefined) continue;
      if (typeof value !== 'string') return null;
      found[name] = value;
    }
  } catch {
    return null;
  }
  const { 'x-agent-id': agentId, 'x-window-id': windowId, 'x-hlc': hlc } = found;
  if (agentId === undefined || windowId === undefined || hlc === undefined) return null;
  return {
    'x-agent-id': agentId,
    'x-window-id': windowId,
    'x-hlc': hlc,
    'nats-msg-id': found['nats-msg-id'],
    'x-signature': found['x-signature'],
    'x-public-key': found['x-public-key'],
  };
}

/**
 * Rules 4 to 6. A claim without `x-signature` is unsigned, whatever else it carries (the frame
 * judge's `unsigned-frame` is the same rule); with `x-signature` it is signed, and a missing
 * `x-public-key` fails rule 6. Rule 5 judges only a well-formed key
 * (a malformed or missing `x-public-key` is rule 6's `bad-signature`), except that an agent
 * with no trusted key fails it whatever the key, whenever trust is required. An agent with no
 * trusted key, while signatures are optional, skips rule 5: its signature must still be
 * well-formed and verify against its own `x-public-key` (which proves integrity, not trust).
 */
function judgeSignature(
  headers: ClaimHeaders,
  bytes: Uint8Array,
  agentId: string,
  policy: ClaimPolicy,
): StatusRejectReason | null {
  const trusted = policy.trustedKeys.get(agentId);
  const trustRequired = policy.requireSignature || trusted !== undefined;
  const signatureText = headers['x-signature'];
  const publicKeyText = headers['x-public-key'];
  if (signatureText === undefined) return trustRequired ? 'unsigned' : null;
  const publicKey =
    publicKeyText === undefined ? null : decodeStrictBase64(publicKeyText, PUBLIC_KEY_BYTES);
  if (trustRequired) {
    if (trusted === undefined) return 'untrusted-key';
    if (publicKey !== null && !trusted.has(encodeBase64(publicKey))) return 'untrusted-key';
  }
  const signature = decodeStrictBase64(signatureText, SIGNATURE_BYTES);
  if (publicKey === null || signature === null || !verifyBytes(publicKey, bytes, signature)) {
    return 'bad-signature';
  }
  return null;
}

/** A digest of the payload bytes: remembering 32 bytes per agent instead of up to 4096. */
function digestOf(bytes: Uint8Array): string {
  return sha256Base64(bytes);
}
