/**
 * The time source of the dev pulse's schedule: a monotonic clock and one-shot timers. Injected so
 * that the schedule is tested on fake time.
 */

/**
 * A monotonic clock and one-shot timers, in milliseconds: the dev pulse's time source.
 *
 * @example
 * ```ts
 * const scheduler: PulseScheduler = {
 *   now: () => performance.now(),
 *   schedule: (callback, delayMs) => {
 *     const timer = setTimeout(callback, delayMs);
 *     return () => clearTimeout(timer);
 *   },
 * };
 * await startPulse({ clusterId: 'chorus-dev', scheduler });
 * ```
 */
export interface PulseScheduler {
  /**
   * The monotonic time in ms (never goes back; its origin is arbitrary).
   *
   * @example
   * ```ts
   * const elapsedMs = scheduler.now() - startedAt;
   * ```
   * @return Milliseconds since an arbitrary origin.
   */
  now(): number;
  /**
   * Runs `callback` once, `delayMs` from now.
   *
   * @example
   * ```ts
   * const cancel = scheduler.schedule(() => publishBeat(), 500);
   * cancel(); // it will not run
   * ```
   * @param callback What to run.
   * @param delayMs How long from now, in ms.
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
