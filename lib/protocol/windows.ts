import { sha256Hex } from '../crypto/sha256';

/** Beats in a bar when a frame does not say. */
export const DEFAULT_BEATS_PER_BAR = 4;

/**
 * The window (bar) id of a beat, docs/protocol.md section 6: the first 32 lowercase hex digits of
 * SHA-256 over `clusterId + ":" + floor(beatIndex / beatsPerBar)`.
 *
 * @example
 * windowIdFor('chorus-dev', 5); // 'dcf38a6a073449b365c2c1bd92983e4e' (bar 1)
 *
 * @param beatIndex A beat index, an integer from 0 to 2^53−1.
 * @param beatsPerBar Beats in a bar, an integer from 1 to 64 (default 4).
 * @return 32 lowercase hex digits.
 * @throws RangeError when `beatIndex` or `beatsPerBar` is out of range.
 */
export function windowIdFor(
  clusterId: string,
  beatIndex: number,
  beatsPerBar: number = DEFAULT_BEATS_PER_BAR,
): string {
  if (!Number.isSafeInteger(beatIndex) || beatIndex < 0) {
    throw new RangeError(`beatIndex must be an integer from 0 to 2^53-1, got ${beatIndex}`);
  }
  if (!Number.isInteger(beatsPerBar) || beatsPerBar < 1 || beatsPerBar > 64) {
    throw new RangeError(`beatsPerBar must be an integer from 1 to 64, got ${beatsPerBar}`);
  }
  return barWindowId(clusterId, Math.floor(beatIndex / beatsPerBar));
}

/** The window id of bar `barIndex` (no range checks: callers have validated). */
export function barWindowId(clusterId: string, barIndex: number): string {
  return sha256Hex(`${clusterId}:${barIndex}`).slice(0, 32);
}
