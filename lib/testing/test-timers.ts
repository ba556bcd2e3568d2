/**
 * The timers of one test client and its test pulses, on the scheduler a test gave: every timer
 * they set can be cancelled at once, synchronously, which a virtual-time run needs (a
 * `TestScheduler.run` flushes until no timer is left, and the client's own `stop()` cancels
 * its timers only after promises settle, that is after the run).
 */
import { Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';

/**
 * A {@link SchedulerLike} over another one, for one-shot timers (as the beat engine and the test
 * pulse set them): it tells time by `now`, can {@link halt} every pending timer, and fails a
 * timer that would run more than `horizonMs` after it was made, so that a forgotten client on
 * virtual time ends the run with an error instead of looping for ever.
 */
export class TestTimers implements SchedulerLike {
  private readonly pending = new Set<Subscription>();
  private readonly startedAtMs: number;
  private halted = false;

  /**
   * @param scheduler Runs the timers (a `TestScheduler`, or `asyncScheduler` under fake timers).
   * @param clock The monotonic clock the timers are told by (ms).
   * @param horizonMs Virtual ms after which running a timer throws; Infinity for none.
   */
  constructor(
    private readonly scheduler: SchedulerLike,
    private readonly clock: () => number,
    private readonly horizonMs: number,
  ) {
    this.startedAtMs = clock();
  }

  now(): number {
    return this.clock();
  }

  /** Timers set and not yet run or cancelled. */
  get size(): number {
    return this.pending.size;
  }

  /** Whether {@link halt} was called. */
  get isHalted(): boolean {
    return this.halted;
  }

  schedule<T>(
    work: (this: SchedulerAction<T>, state?: T) => void,
    delay = 0,
    state?: T,
  ): Subscription {
    if (this.halted) return Subscription.EMPTY;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the action's `this` is rxjs's
    const timers = this;
    const action: Subscription = this.scheduler.schedule<T>(
      function (this: SchedulerAction<T>, value?: T) {
        timers.pending.delete(action);
        timers.checkHorizon();
        work.call(this, value);
      },
      delay,
      state,
    );
    if (!action.closed) {
      this.pending.add(action);
      action.add(() => this.pending.delete(action));
    }
    return action;
  }

  /** Cancels every pending timer, and refuses new ones from now on. Idempotent. */
  halt(): void {
    this.halted = true;
    for (const action of [...this.pending]) action.unsubscribe();
    this.pending.clear();
  }

  private checkHorizon(): void {
    const elapsed = this.clock() - this.startedAtMs;
    if (elapsed > this.horizonMs) {
      this.halt();
      throw new Error(
        `test client still running after ${elapsed} virtual ms (maxVirtualMs ${this.horizonMs}): ` +
          'call test.stop() inside the run, at the virtual time it should end (it cancels the ' +
          "timers at once; client.stop() alone finishes only after the run's promises), or raise " +
          'maxVirtualMs',
      );
    }
  }
}
