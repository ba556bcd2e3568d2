import type { BeatFrame } from '../protocol/beat-frame';

/** Where a delivered beat came from. */
export type BeatSource = 'pulse' | 'synthetic' | 'legacy';

/**
 * A delivered beat: a frozen BeatFrame (every field of PROTOCOL.md section 3, `beats_per_bar`
 * always filled) plus what the SDK knows of it.
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
    /** Whether this beat starts a new timeline (PROTOCOL.md section 9). */
    timelineReset: boolean;
  }
>;
