import type { SchedulerLike } from 'rxjs';

/**
 * Options of `client.stop()`.
 *
 * @example
 * ```ts
 * const { dropped } = await client.stop({ timeoutMs: 2000 });
 * ```
 */
export interface StopOptions {
  /** How long to wait for buffered claims to go out. Default 5000 ms. */
  timeoutMs?: number;
}

/**
 * Where a client's time comes from. The defaults are the real clocks; the test kit
 * (`@chorus-services/backbeat/testing`) passes a `TestScheduler`'s virtual time.
 */
export interface ClientRuntime {
  /**
   * Runs the beat engine's timers and tells its monotonic time: `performance.now()` for the
   * `asyncScheduler` family, else the scheduler's `now()`. Default `asyncScheduler`.
   */
  readonly scheduler?: SchedulerLike;
  /**
   * Wall clock, ms since the epoch: `receivedAtMs`, drift, and (as the scheduler's monotonic
   * clock carries it) HLC stamps. Default `Date.now`.
   */
  readonly wallNow?: () => number;
}
