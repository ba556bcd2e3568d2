/**
 * The frame judge (docs/protocol.md sections 3 and 4): one verdict for each payload on the beat
 * subject, accepted or rejected with exactly one reason.
 */
import { decodeStrictBase64 } from '../crypto/base64';
import { sameBytes } from '../crypto/keys';
import { verifyBytes } from '../crypto/signature';
import { BEAT_FRAME_TYPE, RESERVED_PHASES, type BeatFrame } from './beat-frame';
import { parseBeatFrame } from './frame-check';
import { headerValues, type HeadersLike } from './headers';
import { LegacyFrameSchema, legacyToBeatIndex } from './legacy';
import { MAX_PAYLOAD_BYTES } from './text';
import { barWindowId, DEFAULT_BEATS_PER_BAR } from './windows';

/**
 * Every reason the judge can give, in the order it checks them (docs/protocol.md section 3): the keys
 * of `client.metrics().beats.rejected`, with `'other-pulse'`, `'stale-frame'` and `'hlc-skew'`.
 *
 * @example
 * ```ts
 * const { rejected } = client.metrics().beats;
 * const refused = FRAME_REJECT_REASONS.reduce((sum, reason) => sum + rejected[reason], 0);
 * ```
 */
export const FRAME_REJECT_REASONS = [
  'too-large',
  'not-json',
  'legacy-off',
  'schema',
  'other-cluster',
  'inconsistent',
  'reserved-phase',
  'unsigned-frame',
  'untrusted-pulse',
  'bad-signature',
] as const;

/**
 * Why the judge rejected a payload on the beat subject: one of {@link FRAME_REJECT_REASONS}.
 *
 * @example
 * ```ts
 * const reason: FrameRejectReason = 'untrusted-pulse';
 * client.metrics().beats.rejected[reason]; // frames signed by a key not in trustedPulseKeys
 * ```
 */
export type FrameRejectReason = (typeof FRAME_REJECT_REASONS)[number];

/** An accepted frame: frozen, `beats_per_bar` always filled (4 when the frame leaves it out). */
export type AcceptedFrame = Readonly<BeatFrame & { beats_per_bar: number }>;

/** The judge's verdict on one payload. */
export type FrameVerdict =
  | {
      ok: true;
      frame: AcceptedFrame;
      /** `'pulse'` for a BeatFrame, `'legacy'` for a converted legacy frame. */
      source: 'pulse' | 'legacy';
      /** The frame's `hlc` is more than `maxClockSkewMs` ahead: a beat, but not to be merged. */
      hlcSkew: boolean;
    }
  | { ok: false; reason: FrameRejectReason };

/** What the judge needs to know of the client. */
export interface JudgeContext {
  /** The cluster whose beat subject the payload came from. */
  clusterId: string;
  /** Whether legacy `{ bar, beat }` frames are converted (else rejected as `legacy-off`). */
  acceptLegacyFrames: boolean;
  /** When set and not empty, only frames signed by one of these 32-byte keys are accepted. */
  trustedPulseKeys?: readonly Uint8Array[];
  /** A frame `hlc` further ahead of `physicalNow()` than this (ms) is flagged `hlcSkew`. */
  maxClockSkewMs: number;
  /** The wall clock, ms since the epoch. */
  physicalNow: () => number;
  /**
   * The engine's last known bar length and tempo and a fresh tick of the agent's HLC; called
   * only for a legacy frame, once.
   */
  legacy: () => { beatsPerBar: number; tempoBpm: number; hlc: string };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** One cached window id: consecutive frames mostly share a bar, and SHA-256 is not free. */
let lastWindow = { clusterId: '', barIndex: -1, windowId: '' };

function windowOf(clusterId: string, beatIndex: number, beatsPerBar: number): string {
  const barIndex = Math.floor(beatIndex / beatsPerBar);
  if (lastWindow.barIndex !== barIndex || lastWindow.clusterId !== clusterId) {
    lastWindow = { clusterId, barIndex, windowId: barWindowId(clusterId, barIndex) };
  }
  return lastWindow.windowId;
}

function reject(reason: FrameRejectReason): FrameVerdict {
  return { ok: false, reason };
}

/**
 * Judges one payload from the beat subject, checking in the order of docs/protocol.md section 3:
 * `too-large`, `not-json`, `legacy-off`, `schema`, `other-cluster`, `inconsistent`,
 * `reserved-phase`, then, with trusted pulse keys, `unsigned-frame`, `untrusted-pulse` and
 * `bad-signature`. Never throws.
 *
 * A payload is legacy-shaped when it is a JSON object with no `type` key and with both `bar`
 * and `beat` keys: with legacy frames off it is `legacy-off` whatever their values; with them on
 * it must pass {@link LegacyFrameSchema} (and `beat` must not exceed the bar length it carries or
 * else the last known one, nor the index 2^53−1), or it is `schema`. With trusted pulse keys,
 * legacy frames must be signed too: otherwise they would be a way around the keys.
 *
 * @example
 * const verdict = judgeFrame(msg.data, msg.headers, context);
 * if (verdict.ok) engine.onFrame(verdict.frame, verdict.source, verdict.hlcSkew);
 * else metrics.rejected(verdict.reason);
 *
 * @param payload The message's exact bytes.
 * @param headers The message's headers, if any (only the signature headers are read).
 * @return The frame with its source and skew flag, or the one reason it was rejected.
 */
export function judgeFrame(
  payload: Uint8Array,
  headers: HeadersLike | undefined,
  ctx: JudgeContext,
): FrameVerdict {
  try {
    return judge(payload, headers, ctx);
  } catch {
    // Only a broken context (a throwing clock or legacy() callback) or a payload that is not
    // bytes gets here: the contract is a verdict, so it is bad input, never an exception.
    return reject('schema');
  }
}

function judge(
  payload: Uint8Array,
  headers: HeadersLike | undefined,
  ctx: JudgeContext,
): FrameVerdict {
  if (payload.byteLength > MAX_PAYLOAD_BYTES) return reject('too-large');
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return reject('not-json');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return reject('not-json');
  }
  if (isLegacyShaped(raw)) {
    return ctx.acceptLegacyFrames ? judgeLegacy(raw, payload, headers, ctx) : reject('legacy-off');
  }
  const parsed = parseBeatFrame(raw);
  if (!parsed.success) return reject('schema');
  const frame = parsed.data;
  if (frame.cluster_id !== ctx.clusterId) return reject('other-cluster');
  const beatsPerBar = frame.beats_per_bar ?? DEFAULT_BEATS_PER_BAR;
  if (
    frame.downbeat !== (frame.beat_index % beatsPerBar === 0) ||
    frame.window_id !== windowOf(frame.cluster_id, frame.beat_index, beatsPerBar)
  ) {
    return reject('inconsistent');
  }
  if (RESERVED_PHASES.has(frame.phase)) return reject('reserved-phase');
  const signature = judgeSignature(payload, headers, ctx.trustedPulseKeys);
  if (signature !== undefined) return reject(signature);
  frame.beats_per_bar = beatsPerBar;
  // The schema checked `hlc` against HLC_PATTERN: its first 12 characters are `l` in hex (no
  // second regular expression on the hot path).
  const stampMs = parseInt(frame.hlc.slice(0, 12), 16);
  const hlcSkew = stampMs - ctx.physicalNow() > ctx.maxClockSkewMs;
  return { ok: true, frame: Object.freeze(frame) as AcceptedFrame, source: 'pulse', hlcSkew };
}

/** A JSON object without `type` that names a `bar` and a `beat`: what old pulses send. */
function isLegacyShaped(raw: unknown): raw is Record<string, unknown> {
  return (
    typeof raw === 'object' &&
    raw !== null &&
    !Array.isArray(raw) &&
    !Object.hasOwn(raw, 'type') &&
    Object.hasOwn(raw, 'bar') &&
    Object.hasOwn(raw, 'beat')
  );
}

function judgeLegacy(
  raw: Record<string, unknown>,
  payload: Uint8Array,
  headers: HeadersLike | undefined,
  ctx: JudgeContext,
): FrameVerdict {
  const parsed = LegacyFrameSchema.safeParse(raw);
  if (!parsed.success) return reject('schema');
  const legacy = parsed.data;
  const known = ctx.legacy();
  const beatsPerBar = legacy.beats_per_bar ?? known.beatsPerBar;
  let beatIndex: number;
  try {
    beatIndex = legacyToBeatIndex(legacy.bar, legacy.beat, beatsPerBar);
  } catch {
    return reject('schema');
  }
  if (legacy.cluster_id !== undefined && legacy.cluster_id !== ctx.clusterId) {
    return reject('other-cluster');
  }
  const signature = judgeSignature(payload, headers, ctx.trustedPulseKeys);
  if (signature !== undefined) return reject(signature);
  const tempoBpm = legacy.tempo_bpm ?? known.tempoBpm;
  const frame: AcceptedFrame = Object.freeze({
    type: BEAT_FRAME_TYPE,
    cluster_id: ctx.clusterId,
    pulse_id: 'legacy',
    beat_index: beatIndex,
    downbeat: beatIndex % beatsPerBar === 0,
    phase: 'legacy',
    hlc: known.hlc,
    deadline_at: new Date(ctx.physicalNow() + 60000 / tempoBpm).toISOString(),
    tempo_bpm: tempoBpm,
    window_id: windowOf(ctx.clusterId, beatIndex, beatsPerBar),
    beats_per_bar: beatsPerBar,
  });
  return { ok: true, frame, source: 'legacy', hlcSkew: false };
}

/**
 * The signature check of a frame when trusted pulse keys are set: undefined when it is signed
 * by one of them, else the reason. Absent `x-signature`: `unsigned-frame`. Either header given
 * twice, or `x-public-key` absent or not strict base64 of 32 bytes: `bad-signature` (malformed
 * headers name no key to trust). A well-formed key not trusted: `untrusted-pulse`. Then
 * `x-signature` not strict base64 of 64 bytes, or not verifying over the exact payload bytes:
 * `bad-signature`.
 */
function judgeSignature(
  payload: Uint8Array,
  headers: HeadersLike | undefined,
  trustedKeys: readonly Uint8Array[] | undefined,
): FrameRejectReason | undefined {
  if (trustedKeys === undefined || trustedKeys.length === 0) return undefined;
  const signatures = headerValues(headers, 'x-signature');
  if (signatures.length === 0) return 'unsigned-frame';
  const keys = headerValues(headers, 'x-public-key');
  if (signatures.length > 1 || keys.length !== 1) return 'bad-signature';
  const publicKey = decodeStrictBase64(keys[0], 32);
  if (publicKey === null) return 'bad-signature';
  if (!trustedKeys.some((trusted) => sameBytes(trusted, publicKey))) return 'untrusted-pulse';
  const signature = decodeStrictBase64(signatures[0], 64);
  if (signature === null || !verifyBytes(publicKey, payload, signature)) return 'bad-signature';
  return undefined;
}
