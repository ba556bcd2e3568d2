import { asyncScheduler, type SchedulerLike } from 'rxjs';

/**
 * The monotonic clock that goes with a scheduler: `performance.now()` for the `asyncScheduler`
 * family (whose own `now()` is `Date.now`, which a wall-clock step moves), else the scheduler's
 * `now()` (a `TestScheduler`'s virtual time).
 *
 * @example
 * ```ts
 * const now = monotonicNow(testScheduler); // virtual ms inside testScheduler.run
 * const real = monotonicNow(); // performance.now()
 * ```
 * @param scheduler The scheduler whose timers the durations are measured for.
 * @return A clock in ms that never goes back.
 */
export function monotonicNow(scheduler?: SchedulerLike): () => number {
  if (scheduler === undefined || scheduler.now === asyncScheduler.now) {
    return () => performance.now();
  }
  return () => scheduler.now();
}
