/**
 * The time source of the dev pulse's schedule: a monotonic clock and one-shot timers. Injected so
 * that the schedule is tested on fake time.
 */

/** A monotonic clock and one-shot timers, in milliseconds. */
export interface PulseScheduler {
  /** The monotonic time in ms (never goes back; its origin is arbitrary). */
  now(): number;
  /**
   * Runs `callback` once, `delayMs` from now.
   *
   * @return A function that cancels the timer (a no-op once it has run).
   */
  schedule(callback: () => void, delayMs: number): () => void;
}

/**
 * The real scheduler: `performance.now()` and `setTimeout`. Both are looked up at each call, so
 * jest's fake timers apply to it too.
 *
 * @example
 * const cancel = realTimeScheduler.schedule(() => console.log('beat'), 500);
 */
export const realTimeScheduler: PulseScheduler = {
  now: () => performance.now(),
  schedule: (callback, delayMs) => {
    const timer = setTimeout(callback, delayMs);
    return () => clearTimeout(timer);
  },
};
