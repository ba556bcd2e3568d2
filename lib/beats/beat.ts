import type { BeatFrame } from '../protocol/beat-frame';

/**
 * Where a delivered beat came from: the pulse, the SDK itself while degraded, or a legacy frame.
 *
 * @example
 * ```ts
 * client.beat$.pipe(filter((beat) => beat.source !== 'synthetic')).subscribe(onRealBeat);
 * ```
 */
export type BeatSource = 'pulse' | 'synthetic' | 'legacy';

/**
 * A delivered beat: a frozen BeatFrame (every field of docs/protocol.md section 3, `beats_per_bar`
 * always filled) plus what the SDK knows of it.
 *
 * @example
 * ```ts
 * client.onBeat((beat: Beat) => {
 *   if (beat.missedBefore > 0) log.warn({ missed: beat.missedBefore }, 'beats missed');
 *   if (beat.downbeat) startBar(beat.window_id);
 * });
 * ```
 */
export type Beat = Readonly<
  BeatFrame & {
    beats_per_bar: number;
    /** `'pulse'`, `'synthetic'` (made by the SDK while degraded) or `'legacy'`. */
    source: BeatSource;
    /** Wall clock (ms since the epoch) when the SDK received or made it. */
    receivedAtMs: number;
    /** Indexes skipped just before this beat. */
    missedBefore: number;
    /** Whether this beat starts a new timeline (docs/protocol.md section 9). */
    timelineReset: boolean;
  }
>;
