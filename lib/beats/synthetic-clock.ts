/**
 * The beat engine's one timer (docs/protocol.md section 9): it watches for the degradation point
 * while a pulse is followed and, once degraded, keeps time on the synthetic schedule. It decides
 * when a synthetic beat is due; the engine decides which beat that is.
 */
import type { SchedulerLike, Subscription } from 'rxjs';
import { latestSlotAt, slotDueMs } from './schedule';

/** One synthetic slot, as the engine is told of it when it comes. */
export interface SyntheticSlot {
  /** Slots that passed since the last one while the timer was held up: not emitted. */
  readonly skipped: number;
  /** When this slot was due (monotonic ms). */
  readonly dueMs: number;
  /** When the next one is due (monotonic ms). */
  readonly nextDueMs: number;
  /** When the slot is emitted (monotonic ms): `dueMs` unless the timer was held up. */
  readonly nowMs: number;
}

/** What the clock asks of the engine. */
export interface SyntheticClockHost {
  /** When the degradation point comes, as things stand now (monotonic ms). */
  silenceDeadline(): number;
  /** The degradation point `pointMs` passed without a frame: the engine calls `degrade`. */
  silenceReached(pointMs: number): void;
  /** A synthetic slot is due: the engine delivers its beat. */
  slotDue(slot: SyntheticSlot): void;
}

/** The synthetic schedule of one degradation: slot `k` is due at `anchorMs + k × period`. */
interface SyntheticSchedule {
  readonly anchorMs: number;
  readonly period: number;
  /** The last slot emitted (0 before the first). */
  slot: number;
}

/**
 * One pending timer on the injected scheduler, on the monotonic clock: the silence watch until
 * degradation, then the synthetic slots. Timers scheduled on an rxjs scheduler cannot be moved,
 * so each arm replaces the pending one.
 *
 * @example
 * const timer = new SyntheticClock(scheduler, monotonicNow(scheduler), {
 *   silenceDeadline, silenceReached, slotDue,
 * });
 * timer.watchSilence(); // after every frame
 * timer.degrade(anchorMs, period, pointMs); // from silenceReached, or at once
 */
export class SyntheticClock {
  private timer: Subscription | null = null;
  /** The degradation point the pending timer is armed for, when it is the silence watch. */
  private silenceTimerDue: number | null = null;
  private schedule: SyntheticSchedule | null = null;
  private stopped = false;

  constructor(
    private readonly scheduler: SchedulerLike,
    private readonly now: () => number,
    private readonly host: SyntheticClockHost,
  ) {}

  /** Whether the engine keeps time on its own. */
  get degraded(): boolean {
    return this.schedule !== null;
  }

  /**
   * Arms the silence watch for the degradation point, unless degraded (the synthetic schedule
   * owns the timer then). It is re-armed on every frame: a lazy timer left to fire early and
   * re-arm itself would, whenever the tolerance is a whole number of periods (100 ms at
   * 600 BPM), fire just as a frame arrives and hold the frame up.
   */
  watchSilence(): void {
    if (this.schedule !== null) return;
    const deadline = this.host.silenceDeadline();
    if (this.timer !== null && this.silenceTimerDue === deadline) return;
    this.arm(deadline, () => {
      this.silenceTimerDue = null;
      if (this.host.silenceDeadline() > deadline) this.watchSilence();
      else this.host.silenceReached(deadline);
    });
    this.silenceTimerDue = deadline;
  }

  /**
   * Starts the synthetic schedule anchored at `anchorMs`, `pointMs` being the degradation
   * point: the latest slot due then is the first synthetic beat (slots before it are not
   * emitted); slots that passed after it, while the timer was held up, are skipped (and told
   * of in the next slot's `skipped`).
   */
  degrade(anchorMs: number, period: number, pointMs: number): void {
    const firstSlot = Math.max(1, latestSlotAt(anchorMs, period, pointMs));
    this.schedule = { anchorMs, period, slot: firstSlot - 1 };
    if (slotDueMs(anchorMs, period, firstSlot) <= this.now()) {
      this.nextSlot();
    } else {
      this.arm(slotDueMs(anchorMs, period, firstSlot), () => this.nextSlot());
    }
  }

  /** A pulse frame ends the degradation; the silence watch the engine arms next replaces the timer. */
  recover(): void {
    this.schedule = null;
  }

  /** Cancels the timer, for good. Idempotent. */
  stop(): void {
    this.stopped = true;
    this.cancel();
  }

  /** Arms the timer for the next slot, then tells the engine of the slot due now. */
  private nextSlot(): void {
    const schedule = this.schedule;
    if (schedule === null) return;
    const nowMs = this.now();
    const expected = schedule.slot + 1;
    // A timer that fires a little early still stands for its slot; one held up skips slots.
    const slot = Math.max(expected, latestSlotAt(schedule.anchorMs, schedule.period, nowMs));
    schedule.slot = slot;
    const nextDueMs = slotDueMs(schedule.anchorMs, schedule.period, slot + 1);
    this.arm(nextDueMs, () => this.nextSlot());
    this.host.slotDue({
      skipped: slot - expected,
      dueMs: slotDueMs(schedule.anchorMs, schedule.period, slot),
      nextDueMs,
      nowMs,
    });
  }

  /** Replaces the pending timer by `work` at monotonic time `dueMs`. */
  private arm(dueMs: number, work: () => void): void {
    this.cancel();
    if (this.stopped) return;
    const delayMs = Math.max(0, dueMs - this.now());
    this.timer = this.scheduler.schedule(() => {
      this.timer = null;
      work();
    }, delayMs);
  }

  private cancel(): void {
    this.timer?.unsubscribe();
    this.timer = null;
    this.silenceTimerDue = null;
  }
}
