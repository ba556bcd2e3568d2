/**
 * Virtual time for specs of code that takes an RxJS scheduler: RxJS's own `VirtualTimeScheduler`,
 * moved to an instant instead of flushed to the end (a recurring timer never ends), and, for the
 * one thing RxJS cannot do, a timer run late as a stalled event loop runs it.
 */
import { VirtualTimeScheduler } from 'rxjs';

/**
 * A `VirtualTimeScheduler` whose clock starts at `startMs`.
 *
 * @example
 * const scheduler = virtualScheduler(1000);
 * scheduler.now(); // 1000
 */
export function virtualScheduler(startMs = 0): VirtualTimeScheduler {
  const scheduler = new VirtualTimeScheduler();
  scheduler.frame = startMs;
  return scheduler;
}

/**
 * Moves the clock to `untilMs`, running each timer due by then at its due time, in due order
 * (ties in the order they were set), including timers those set. The clock never goes back.
 *
 * @example
 * advanceTo(scheduler, 2000); // every beat due by 2 s has gone out; scheduler.now() is 2000
 */
export function advanceTo(scheduler: VirtualTimeScheduler, untilMs: number): void {
  // flush() would run a recurring timer for ever; maxFrames is its own bound.
  scheduler.maxFrames = untilMs;
  try {
    scheduler.flush();
  } finally {
    scheduler.maxFrames = Infinity;
  }
  scheduler.frame = Math.max(scheduler.frame, untilMs);
}

/** Timers set on `scheduler` and not yet run or cancelled. */
export function pendingTimers(scheduler: VirtualTimeScheduler): number {
  return scheduler.actions.length;
}

/** When the earliest pending timer is due, or undefined when none is. */
export function nextDueMs(scheduler: VirtualTimeScheduler): number | undefined {
  return scheduler.actions[0]?.delay;
}

/**
 * A `VirtualTimeScheduler` that can also run its earliest timer late: a `VirtualTimeScheduler`
 * runs each timer exactly at its due time, so it cannot show what a late callback does to a
 * schedule. After a late run, timers already overdue run at the clock's time, in due order, as
 * an event loop runs them after a stall (RxJS's `flush` would set the clock back to each due time).
 *
 * @example
 * const scheduler = new StallingScheduler();
 * startBeatSchedule({ scheduler, startIndex: 0, tempoBpm: 120, onBeat });
 * scheduler.runNextLate(1300); // beat 1's timer (due at 500) runs at 1800
 */
export class StallingScheduler extends VirtualTimeScheduler {
  /** @param startMs The clock's first reading. */
  constructor(startMs = 0) {
    super();
    this.frame = startMs;
  }

  override flush(): void {
    const { actions, maxFrames } = this;
    for (let action = actions[0]; action && action.delay <= maxFrames; action = actions[0]) {
      actions.shift();
      this.frame = Math.max(this.frame, action.delay);
      const error: Error | undefined = action.execute(action.state, action.delay);
      if (error !== undefined) {
        for (const pending of actions.splice(0)) pending.unsubscribe();
        throw error;
      }
    }
  }

  /**
   * Runs the earliest pending timer `lateMs` after it was due; no other timer runs.
   *
   * @return False when no timer was pending.
   */
  runNextLate(lateMs: number): boolean {
    const action = this.actions.shift();
    if (action === undefined) return false;
    this.frame = Math.max(this.frame, action.delay + lateMs);
    const error: Error | undefined = action.execute(action.state, action.delay);
    if (error !== undefined) throw error;
    return true;
  }
}
