/**
 * The dev pulse's beat schedule: absolute due times, re-anchored only at tempo changes, so that
 * late timer callbacks never add up to drift. No frames and no NATS: it only says when.
 */
import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { monotonicNow } from '../clock/monotonic-now';
import { MAX_BEAT_INDEX } from '../protocol/text';

/** One beat of the schedule, handed to `onBeat` when it is due (or as soon after as it can). */
export interface ScheduledBeat {
  readonly index: number;
  /** The tempo from this beat on: the period up to the next beat is `60000 / tempoBpm`. */
  readonly tempoBpm: number;
  /** When this beat was due, on the schedule's clock. */
  readonly dueAtMs: number;
  /** When the next beat is due, on the schedule's clock. */
  readonly nextDueAtMs: number;
  /** When the callback ran, on the schedule's clock (at or after `dueAtMs`). */
  readonly nowMs: number;
  /** Beats whose slots passed while the event loop was stalled: skipped, not sent in a burst. */
  readonly skipped: number;
}

/** What a running schedule offers. */
export interface BeatSchedule {
  /** The tempo from the next beat on: that beat stays when it was due, the ones after follow. */
  setTempo(tempoBpm: number): void;
  /** Stops the schedule; idempotent. */
  stop(): void;
  /** The index of the last beat handed out; `startIndex − 1` before the first. */
  beatIndex(): number;
}

/** How a schedule starts. */
export interface BeatScheduleOptions {
  /**
   * Sets the timers; the schedule's clock is `monotonicNow(scheduler)` (`performance.now()` for
   * the `asyncScheduler` family, whose own `now()` a wall-clock step moves). Default
   * `asyncScheduler`.
   */
  readonly scheduler?: SchedulerLike;
  /** The first beat's index. */
  readonly startIndex: number;
  /**
   * When `startIndex` is due, on the schedule's clock: now or earlier (the first beat goes out
   * at once either way). Default now. A pulse on an epoch starts at the index due now, which
   * was due a little earlier.
   */
  readonly startDueAtMs?: number;
  /** The starting tempo (validated by the caller). */
  readonly tempoBpm: number;
  /** Called for each beat; must not throw (what it throws goes to `onError`). */
  readonly onBeat: (beat: ScheduledBeat) => void;
  /** Told of what `onBeat` threw; the schedule goes on. */
  readonly onError?: (error: unknown) => void;
}

/**
 * Starts a beat schedule: the first beat at once, then beat `k` at `anchor + (k − anchorIndex) ×
 * period`, where the anchor is when `startIndex` was due or the last tempo change. Each timer
 * is set from that absolute due time, so a late callback shortens the next wait instead of
 * shifting every later beat; slots that pass entirely during a stall are skipped (and
 * reported), not sent in a burst. The beat after index 2^53−1 is 0, in the same phase: a new
 * timeline (docs/protocol.md section 9), never an end.
 *
 * @example
 * const schedule = startBeatSchedule({
 *   startIndex: 0, tempoBpm: 120,
 *   onBeat: (beat) => console.log(beat.index),
 * });
 * schedule.setTempo(90);
 * schedule.stop();
 * @param options The scheduler, the first index, the tempo, and what to do on each beat.
 * @return The running schedule.
 */
export function startBeatSchedule(options: BeatScheduleOptions): BeatSchedule {
  const { scheduler = asyncScheduler, onBeat, onError } = options;
  const now = monotonicNow(scheduler);
  let anchorAtMs = options.startDueAtMs ?? now();
  let anchorIndex = options.startIndex;
  let tempoBpm = options.tempoBpm;
  let pendingTempoBpm: number | undefined;
  let nextIndex = options.startIndex;
  let stopped = false;
  let timer: Subscription | undefined;

  const periodMs = () => 60000 / tempoBpm;
  const dueAt = (index: number) => anchorAtMs + (index - anchorIndex) * periodMs();

  function fire(): void {
    timer = undefined;
    if (stopped) return;
    const nowMs = now();
    let skippedBeforeWrap = 0;
    if (anchorIndex + Math.floor((nowMs - anchorAtMs) / periodMs()) > MAX_BEAT_INDEX) {
      // Past 2^53−1: renumber from 0 where 2^53 would have been due (no index beyond it is
      // ever formed; near it, differences of indexes are exact).
      skippedBeforeWrap = MAX_BEAT_INDEX + 1 - nextIndex;
      anchorAtMs = dueAt(MAX_BEAT_INDEX + 1);
      anchorIndex = 0;
      nextIndex = 0;
    }
    // The latest slot already due; never below the next one (floating point, early timers).
    const latestDue = anchorIndex + Math.floor((nowMs - anchorAtMs) / periodMs());
    const index = Math.max(nextIndex, latestDue);
    if (pendingTempoBpm !== undefined) {
      // This beat keeps the time it was promised (the last frame's deadline); the new period
      // starts from it.
      anchorAtMs = dueAt(index);
      anchorIndex = index;
      tempoBpm = pendingTempoBpm;
      pendingTempoBpm = undefined;
    }
    const beat: ScheduledBeat = {
      index,
      tempoBpm,
      dueAtMs: dueAt(index),
      nextDueAtMs: dueAt(index + 1),
      nowMs,
      skipped: index - nextIndex + skippedBeforeWrap,
    };
    nextIndex = index + 1;
    // Set the next timer first, so that neither a throwing nor a stopping onBeat can break it.
    timer = scheduler.schedule(fire, Math.max(0, beat.nextDueAtMs - nowMs));
    try {
      onBeat(beat);
    } catch (error) {
      try {
        onError?.(error);
      } catch {
        // The reporter failed too: a timer callback must not throw, or the process dies.
      }
    }
  }

  function stop(): void {
    stopped = true;
    timer?.unsubscribe();
    timer = undefined;
  }

  fire();
  return {
    setTempo: (bpm) => {
      if (!stopped) pendingTempoBpm = bpm;
    },
    stop,
    beatIndex: () => nextIndex - 1,
  };
}
