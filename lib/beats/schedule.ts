/**
 * The arithmetic of an absolute beat schedule (docs/protocol.md section 9): slot `k` of a schedule
 * anchored at `anchorMs` is due at `anchorMs + k × periodMs`. Every due time is computed from the
 * anchor, never by adding intervals up, so rounding never accumulates into drift.
 */

/**
 * The beat period of a tempo.
 *
 * @example
 * periodMs(120); // 500
 * @param tempoBpm Beats per minute, from 1 to 6000.
 * @return `60000 / tempoBpm` ms.
 */
export function periodMs(tempoBpm: number): number {
  return 60000 / tempoBpm;
}

/**
 * When slot `slot` of a schedule is due.
 *
 * @example
 * slotDueMs(1000, 500, 3); // 2500
 * @param anchorMs When slot 0 was due (monotonic ms).
 * @param period The period (ms).
 * @param slot The slot number.
 * @return `anchorMs + slot × period`.
 */
export function slotDueMs(anchorMs: number, period: number, slot: number): number {
  return anchorMs + slot * period;
}

/**
 * The latest slot due at `nowMs`: the largest `k` with `slotDueMs(anchorMs, period, k) ≤ nowMs`.
 *
 * @example
 * latestSlotAt(1000, 500, 2499); // 2
 * latestSlotAt(1000, 500, 2500); // 3
 * @param anchorMs When slot 0 was due (monotonic ms).
 * @param period The period (ms).
 * @param nowMs The time asked about (monotonic ms).
 * @return That slot number (negative before the anchor).
 */
export function latestSlotAt(anchorMs: number, period: number, nowMs: number): number {
  // The division can round either way by an ulp; settle it against slotDueMs itself, so that a
  // slot's own due time always maps back to that slot, however large the numbers.
  let slot = Math.floor((nowMs - anchorMs) / period);
  while (slotDueMs(anchorMs, period, slot + 1) <= nowMs) slot++;
  while (slotDueMs(anchorMs, period, slot) > nowMs) slot--;
  return slot;
}
