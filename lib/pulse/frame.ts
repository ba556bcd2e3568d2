/**
 * The dev pulse's frame maker: one beat's BeatFrame (docs/protocol.md section 3), its exact payload
 * bytes and its headers. No timers and no NATS, so it is tested on its own.
 */
import type { HybridLogicalClock } from '../clock/hlc';
import { encodeBase64 } from '../crypto/base64';
import type { SigningKey } from '../crypto/keys';
import { signBytes } from '../crypto/signature';
import { BEAT_FRAME_TYPE, type BeatFrame } from '../protocol/beat-frame';
import { windowIdFor } from '../protocol/windows';

/** What one frame is made of. The values are trusted: `startPulse` has validated them. */
export interface PulseFrameInput {
  readonly clusterId: string;
  readonly pulseId: string;
  readonly beatIndex: number;
  readonly tempoBpm: number;
  readonly beatsPerBar: number;
  readonly phases: readonly string[];
  /** The pulse's clock: ticked once for this frame. */
  readonly clock: Pick<HybridLogicalClock, 'tick'>;
  /** When the next beat is due, wall clock, ms since the epoch. */
  readonly deadlineAtMs: number;
  /** Signs the payload when given. */
  readonly signingKey?: SigningKey;
}

/** A frame ready to publish. */
export interface PulseFrame {
  readonly frame: Readonly<BeatFrame & { beats_per_bar: number }>;
  /** The UTF-8 JSON bytes to publish: exactly the bytes signed. */
  readonly payload: Uint8Array;
  /** `x-signature` and `x-public-key` when signed; empty otherwise. */
  readonly headers: Readonly<Record<string, string>>;
}

const encoder = new TextEncoder();

/**
 * The phase label of a beat: the phases cycle within each bar, restarting on every downbeat.
 *
 * @example
 * pulsePhase(5, 4, ['plan', 'work', 'work', 'review']); // 'work' (beat 1 of bar 1)
 * pulsePhase(3, 3, ['a', 'b']); // 'a' (a downbeat starts the cycle again)
 * @param beatIndex The beat index.
 * @param beatsPerBar Beats in a bar.
 * @param phases The labels, at least one.
 * @return `phases[(beatIndex % beatsPerBar) % phases.length]`.
 */
export function pulsePhase(
  beatIndex: number,
  beatsPerBar: number,
  phases: readonly string[],
): string {
  return phases[(beatIndex % beatsPerBar) % phases.length];
}

/**
 * A wall-clock instant as the protocol's writers spell it: UTC, exactly 3 fraction digits, `Z`.
 *
 * @example
 * formatDeadline(1700000000500); // '2023-11-14T22:13:20.500Z'
 * @param wallMs Ms since the epoch (rounded to a whole ms).
 * @return The RFC 3339 text.
 */
export function formatDeadline(wallMs: number): string {
  return new Date(Math.round(wallMs)).toISOString();
}

/**
 * Makes one beat's frame, payload and headers; ticks `clock` once.
 *
 * @example
 * const { frame, payload, headers } = makePulseFrame({
 *   clusterId: 'chorus-dev', pulseId: 'pulse-a', beatIndex: 8, tempoBpm: 120, beatsPerBar: 4,
 *   phases: ['plan', 'work'], clock: new HybridLogicalClock('pulse-a'),
 *   deadlineAtMs: Date.now() + 500,
 * });
 * frame.downbeat; // true
 * @param input The beat, the pulse's settings, its clock and the next beat's wall-clock time.
 * @return The frame object, its UTF-8 JSON bytes, and the signature headers when signed.
 */
export function makePulseFrame(input: PulseFrameInput): PulseFrame {
  const { beatIndex, beatsPerBar } = input;
  const frame = Object.freeze({
    type: BEAT_FRAME_TYPE,
    cluster_id: input.clusterId,
    pulse_id: input.pulseId,
    beat_index: beatIndex,
    downbeat: beatIndex % beatsPerBar === 0,
    phase: pulsePhase(beatIndex, beatsPerBar, input.phases),
    hlc: input.clock.tick(),
    deadline_at: formatDeadline(input.deadlineAtMs),
    tempo_bpm: input.tempoBpm,
    window_id: windowIdFor(input.clusterId, beatIndex, beatsPerBar),
    beats_per_bar: beatsPerBar,
  });
  const payload = encoder.encode(JSON.stringify(frame));
  const key = input.signingKey;
  const headers: Record<string, string> =
    key === undefined
      ? {}
      : {
          'x-signature': encodeBase64(signBytes(key, payload)),
          'x-public-key': key.publicKeyBase64,
        };
  return { frame, payload, headers: Object.freeze(headers) };
}
