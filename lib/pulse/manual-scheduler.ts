/**
 * A {@link PulseScheduler} on manual time, for tests: time moves only when told, and a timer can
 * be run late, as a stalled event loop would.
 */
import type { PulseScheduler } from './scheduler';

interface ManualTimer {
  readonly dueMs: number;
  readonly callback: () => void;
}

/**
 * A scheduler whose clock moves only through `advanceTo`, `advanceBy` and `runNextLate`.
 *
 * @example
 * const scheduler = new ManualPulseScheduler();
 * const pulse = await startPulse({ connection, clusterId: 'c', scheduler });
 * scheduler.advanceBy(500); // the second beat
 */
export class ManualPulseScheduler implements PulseScheduler {
  private timeMs: number;
  private timers: ManualTimer[] = [];

  /** @param startMs The clock's first reading. Default 0. */
  constructor(startMs = 0) {
    this.timeMs = startMs;
  }

  now(): number {
    return this.timeMs;
  }

  schedule(callback: () => void, delayMs: number): () => void {
    const timer = { dueMs: this.timeMs + Math.max(0, delayMs), callback };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((pending) => pending !== timer);
    };
  }

  /** Timers set and not yet run or cancelled. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** When the earliest pending timer is due, or undefined when none is. */
  nextDueMs(): number | undefined {
    return this.earliest()?.dueMs;
  }

  /**
   * Moves the clock to `untilMs`, running each timer due by then exactly at its due time, in
   * due order (ties in the order they were set), including timers those callbacks set.
   */
  advanceTo(untilMs: number): void {
    for (let timer = this.earliest(); timer && timer.dueMs <= untilMs; timer = this.earliest()) {
      this.run(timer, timer.dueMs);
    }
    this.timeMs = Math.max(this.timeMs, untilMs);
  }

  /** {@link advanceTo} `now() + ms`. */
  advanceBy(ms: number): void {
    this.advanceTo(this.timeMs + ms);
  }

  /**
   * Runs the earliest pending timer `lateMs` after it was due, as a busy event loop would; no
   * other timer runs.
   *
   * @return False when no timer was pending.
   */
  runNextLate(lateMs: number): boolean {
    const timer = this.earliest();
    if (timer === undefined) return false;
    this.run(timer, Math.max(this.timeMs, timer.dueMs + lateMs));
    return true;
  }

  private earliest(): ManualTimer | undefined {
    let found: ManualTimer | undefined;
    for (const timer of this.timers) {
      if (found === undefined || timer.dueMs < found.dueMs) found = timer;
    }
    return found;
  }

  private run(timer: ManualTimer, atMs: number): void {
    this.timers = this.timers.filter((pending) => pending !== timer);
    this.timeMs = atMs;
    timer.callback();
  }
}
