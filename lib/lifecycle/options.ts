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
  /** Runs the beat engine's timers. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Monotonic ms. Default `performance.now()` (the scheduler's clock for a virtual one). */
  readonly now?: () => number;
  /**
   * Wall clock, ms since the epoch: `receivedAtMs`, drift, and (as `now` carries it) HLC stamps.
   * Default `Date.now`.
   */
  readonly wallNow?: () => number;
}
