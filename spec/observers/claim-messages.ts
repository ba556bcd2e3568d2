/** Builders of status claim messages for the observer's tests, signed with lib/crypto. */
import { formatHlc } from '../../lib/clock/hlc';
import { encodeBase64 } from '../../lib/crypto/base64';
import { parseSigningKey, type SigningKey } from '../../lib/crypto/keys';
import { signBytes } from '../../lib/crypto/signature';
import type { StatusMessage } from '../../lib/observers/judge-claim';
import type { StatusClaim } from '../../lib/protocol/status-claim';
import { statusSubject } from '../../lib/protocol/subjects';
import signatures from '../fixtures/vectors/signatures.json';
import verify from '../fixtures/vectors/verify.json';

/** The vectors' key: its public key is `verify.trusted_key_b64`. */
export const vectorKey: SigningKey = parseSigningKey(
  Uint8Array.from(Buffer.from(signatures.seed_hex, 'hex')),
);

/** The observer's clock in the verify vectors. */
export const NOW_MS: number = verify.now_ms;

export const CLUSTER = 'chorus-dev';
export const AGENT: string = verify.agent_id;

/** A valid claim stamped `physicalMs` (counter `counter`), with any field overridden. */
export function claimAt(
  physicalMs: number,
  overrides: Partial<StatusClaim> = {},
  counter = 0,
): StatusClaim {
  const agentId = overrides.agent_id ?? AGENT;
  return {
    type: 'backbeat.statusclaim.v1',
    cluster_id: CLUSTER,
    agent_id: agentId,
    task_id: 'task-12345',
    beat_index: 41,
    window_id: 'e6b31da7f5eb743a89765e7c59b69740',
    state: 'executing',
    beats_left: 5,
    progress: 0.3,
    notes: 'Processing data',
    hlc: formatHlc(physicalMs, counter, agentId),
    ...overrides,
  };
}

export interface MessageOptions {
  /** Who signs; null for an unsigned message. Default: the vectors' key. */
  readonly key?: SigningKey | null;
  readonly subject?: string;
  /** The exact payload text; default `JSON.stringify(claim)`. */
  readonly payload?: string;
  /** Header overrides; undefined removes a header. */
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
}

/** The message an agent would send for `claim`: payload bytes, protocol headers, signature. */
export function claimMessage(claim: StatusClaim, options: MessageOptions = {}): StatusMessage {
  const { key = vectorKey, payload = JSON.stringify(claim) } = options;
  const data = new TextEncoder().encode(payload);
  const headers: Record<string, string | string[]> = {
    'x-agent-id': claim.agent_id,
    'x-window-id': claim.window_id,
    'x-hlc': claim.hlc,
    'Nats-Msg-Id': `${claim.agent_id}:${claim.hlc}`,
  };
  if (key !== null) {
    headers['x-signature'] = encodeBase64(signBytes(key, data));
    headers['x-public-key'] = key.publicKeyBase64;
  }
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return {
    subject: options.subject ?? statusSubject(claim.cluster_id, claim.agent_id),
    data,
    headers,
  };
}
