/**
 * Legacy `{ bar, beat }` frames (docs/protocol.md section 4, BACKBEAT-REQ-043) and the mapping between
 * bar/beat and beat indexes.
 */
import { z } from 'zod';
import { MAX_BEAT_INDEX, tokenSchema } from './text';
import { DEFAULT_BEATS_PER_BAR } from './windows';

/** Largest bar: 2^53, the bar of beat 2^53−1 with one beat per bar. */
const MAX_BAR = 2 ** 53;

/** Largest `beats_per_bar` the protocol allows. */
export const MAX_BEATS_PER_BAR = 64;

/**
 * A legacy frame on the wire: integers `bar` ≥ 1 and `beat` ≥ 1, optionally `tempo_bpm`,
 * `beats_per_bar` and `cluster_id`. Unknown fields are stripped.
 *
 * The schema checks `beat ≤ beats_per_bar` when the frame carries `beats_per_bar`, and
 * `beat ≤ 64` otherwise: a frame without it is measured against the bar length last known to
 * the client, which only the frame judge knows. That `type` is absent is how the judge routes a
 * payload here; the schema does not look at it.
 */
export const LegacyFrameSchema = z
  .object({
    bar: z.number().int().min(1),
    beat: z.number().int().min(1).max(MAX_BEATS_PER_BAR),
    tempo_bpm: z.number().min(1).max(6000).optional(),
    beats_per_bar: z.number().int().min(1).max(MAX_BEATS_PER_BAR).optional(),
    cluster_id: tokenSchema.optional(),
  })
  .refine((frame) => frame.beats_per_bar === undefined || frame.beat <= frame.beats_per_bar, {
    message: 'must not exceed beats_per_bar',
    path: ['beat'],
  });

function checkBeatsPerBar(beatsPerBar: number): void {
  if (!Number.isInteger(beatsPerBar) || beatsPerBar < 1 || beatsPerBar > MAX_BEATS_PER_BAR) {
    throw new RangeError(`beatsPerBar must be an integer from 1 to 64, got ${beatsPerBar}`);
  }
}

/**
 * The beat index of a legacy bar and beat: `(bar − 1) × beatsPerBar + (beat − 1)`.
 *
 * @example
 * legacyToBeatIndex(2, 1); // 4
 * legacyToBeatIndex(3, 2, 3); // 7
 *
 * @param bar The bar, an integer from 1 to 2^53.
 * @param beat The beat in its bar, an integer from 1 to `beatsPerBar`.
 * @param beatsPerBar Beats in a bar, an integer from 1 to 64 (default 4).
 * @return The beat index, exact up to 2^53−1.
 * @throws RangeError when an argument is out of range or the index would exceed 2^53−1.
 */
export function legacyToBeatIndex(
  bar: number,
  beat: number,
  beatsPerBar: number = DEFAULT_BEATS_PER_BAR,
): number {
  checkBeatsPerBar(beatsPerBar);
  // Bar 2^53 is the one bar past the safe range that still has a beat (index 2^53−1, one beat
  // per bar), so that `beatIndexToLegacy` round-trips every index.
  if (!Number.isInteger(bar) || bar < 1 || bar > MAX_BAR) {
    throw new RangeError(`bar must be an integer from 1 to 2^53, got ${bar}`);
  }
  if (!Number.isInteger(beat) || beat < 1 || beat > beatsPerBar) {
    throw new RangeError(`beat must be an integer from 1 to ${beatsPerBar}, got ${beat}`);
  }
  // A product or sum beyond 2^53−1 rounds to 2^53 or more, never back into the safe range, so
  // these two checks catch every overflow; below it every step is exact.
  const barStart = (bar - 1) * beatsPerBar;
  const beatIndex = barStart + (beat - 1);
  if (!Number.isSafeInteger(barStart) || !Number.isSafeInteger(beatIndex)) {
    throw new RangeError(
      `bar ${bar}, beat ${beat} with ${beatsPerBar} beats per bar is beyond beat index 2^53-1`,
    );
  }
  return beatIndex;
}

/**
 * The legacy bar and beat of a beat index: `bar = floor(beatIndex / beatsPerBar) + 1`,
 * `beat = beatIndex % beatsPerBar + 1`.
 *
 * @example
 * beatIndexToLegacy(4); // { bar: 2, beat: 1 }
 * beatIndexToLegacy(7, 3); // { bar: 3, beat: 2 }
 *
 * @param beatIndex A beat index, an integer from 0 to 2^53−1.
 * @param beatsPerBar Beats in a bar, an integer from 1 to 64 (default 4).
 * @return The bar (from 1) and the beat in it (from 1).
 * @throws RangeError when an argument is out of range.
 */
export function beatIndexToLegacy(
  beatIndex: number,
  beatsPerBar: number = DEFAULT_BEATS_PER_BAR,
): { bar: number; beat: number } {
  checkBeatsPerBar(beatsPerBar);
  if (!Number.isSafeInteger(beatIndex) || beatIndex < 0 || beatIndex > MAX_BEAT_INDEX) {
    throw new RangeError(`beatIndex must be an integer from 0 to 2^53-1, got ${beatIndex}`);
  }
  // `%` is exact, and subtracting it leaves an exact multiple: no rounding near 2^53.
  const offset = beatIndex % beatsPerBar;
  return { bar: (beatIndex - offset) / beatsPerBar + 1, beat: offset + 1 };
}
