/**
 * The beat engine (docs/protocol.md section 9): one timeline of beats made from judged pulse frames
 * and, while no pulse is heard, from the SDK's own synthetic clock. Pure: no NATS, time injected.
 */
import {
  asyncScheduler,
  type Observable,
  type Observer,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import type { Beat } from './beat';
import { Broadcast } from './broadcast';
import { elapsedSince } from './elapsed';
import {
  checkEngineOptions,
  type BeatEngineCounters,
  type BeatEngineOptions,
  type BeatEngineState,
  type EngineClock,
  type FrameOutcome,
  type JudgedFrame,
} from './engine-types';
import { rfc3339Ms } from './deadline';
import { FollowedGrid } from './grid';
import { beatFromFrame, syntheticBeat } from './make-beat';
import { latestSlotAt, periodMs, slotDueMs } from './schedule';
import { LatenessReference } from './staleness';
import { MAX_BEAT_INDEX } from '../protocol/text';

export {
  BEAT_ENGINE_REJECT_REASONS,
  type BeatEngineCounters,
  type BeatEngineOptions,
  type BeatEngineRejectReason,
  type BeatEngineState,
  type EngineClock,
  type FrameOutcome,
  type JudgedFrame,
} from './engine-types';

type MutableCounters = { -readonly [K in keyof BeatEngineCounters]: BeatEngineCounters[K] };

/** The synthetic schedule of one degradation: slot `k` is due at `anchorMs + k × period`. */
interface SyntheticSchedule {
  readonly anchorMs: number;
  readonly period: number;
  /** The last slot emitted (0 before the first). */
  slot: number;
}

/**
 * Merges judged pulse frames with a synthetic clock into one timeline of beats: strictly
 * increasing indexes (except at a flagged timeline reset), pulse lock, stale frames dropped,
 * the pulse's grid kept on the monotonic clock (`FollowedGrid`: a frame held up does not
 * move it), degradation `period + jitterToleranceMs` after the last beat was due on it,
 * synthetic beats on it, recovery on the first fresh pulse frame, and a new timeline at 0 after
 * index 2^53−1 (docs/protocol.md section 9).
 *
 * Streams are hot (a {@link Broadcast} each), never replay, and complete on {@link stop}. For
 * each delivered beat, in this order: `leadObserver`, `beats$`, then `downbeats$` when it is the
 * first beat of its window (or starts a new timeline), then `afterDelivery`. State is updated
 * before any of them is told. Timeline resets are flagged on the beat and counted; logging them
 * is the caller's.
 *
 * @example
 * const engine = new BeatEngine({ clusterId: 'c', agentId: 'a', jitterToleranceMs: 100,
 *   beatsPerBar: 4, fallbackTempoBpm: 60, clock: new HybridLogicalClock('a') });
 * engine.beats$.subscribe((beat) => console.log(beat.beat_index, beat.source));
 * engine.start();
 * const verdict = judgeFrame(msg.data, msg.headers, ctx);
 * if (verdict.ok) engine.frame(verdict);
 */
export class BeatEngine {
  /** Every delivered beat, frozen. */
  readonly beats$: Observable<Beat>;
  /** The first delivered beat of each window, also after a gap or a timeline reset. */
  readonly downbeats$: Observable<Beat>;

  private readonly beats = new Broadcast<Beat>();
  private readonly downbeats = new Broadcast<Beat>();
  private readonly scheduler: SchedulerLike;
  private readonly now: () => number;
  private readonly wallNow: () => number;
  private readonly clock: EngineClock;
  private readonly leadObserver: Pick<Observer<Beat>, 'next' | 'complete'> | undefined;
  private readonly afterDelivery: ((beat: Beat) => void) | undefined;
  private readonly clusterId: string;
  private readonly agentId: string;
  private readonly toleranceMs: number;

  private tempoBpm: number;
  private beatsPerBar: number;
  private started = false;
  private stopped = false;
  /** When the start-up wait began. */
  private startedAtMs: number | null = null;
  /**
   * When the last beat was due: the last delivered index's due time on the grid after a frame,
   * or a synthetic slot's due time.
   */
  private lastDueMs: number | null = null;
  private readonly grid = new FollowedGrid();
  /** The lateness reference of the last followed pulse (kept through a degradation). */
  private lateness: LatenessReference | null = null;
  private lastIndex: number | null = null;
  private lastWindowId = '';
  private currentBeat: Beat | null = null;
  private pulseFrameSeen = false;
  private followedPulseId: string | null = null;
  private synthetic: SyntheticSchedule | null = null;
  private timer: Subscription | null = null;
  /** The degradation point the pending timer is armed for, when it is the silence timer. */
  private silenceTimerDue: number | null = null;
  private elapsed = 0;
  private timeDriftMs = 0;
  private readonly counters: MutableCounters = {
    framesReceived: 0,
    pulseBeats: 0,
    legacyBeats: 0,
    syntheticBeats: 0,
    missed: 0,
    timelineResets: 0,
    behind: 0,
    otherPulse: 0,
    staleFrames: 0,
    gridRestarts: 0,
    hlcMerged: 0,
    hlcMergesSkipped: 0,
  };

  /**
   * @param options Ids, tolerance, defaults, the HLC, and the injected scheduler and clocks.
   * @throws RangeError when the tolerance is negative or the bar length or tempo is out of range.
   */
  constructor(options: BeatEngineOptions) {
    checkEngineOptions(options);
    const scheduler = options.scheduler ?? asyncScheduler;
    this.scheduler = scheduler;
    // The asyncScheduler family tells time by Date.now, which is not monotonic.
    const wallClockScheduler = scheduler.now === asyncScheduler.now;
    this.now =
      options.now ?? (wallClockScheduler ? () => performance.now() : () => scheduler.now());
    this.wallNow = options.wallNow ?? Date.now;
    this.clock = options.clock;
    this.leadObserver = options.leadObserver;
    this.afterDelivery = options.afterDelivery;
    this.clusterId = options.clusterId;
    this.agentId = options.agentId;
    this.toleranceMs = options.jitterToleranceMs;
    this.tempoBpm = options.fallbackTempoBpm;
    this.beatsPerBar = options.beatsPerBar;
    this.beats$ = this.beats.observable;
    this.downbeats$ = this.downbeats.observable;
  }

  /** Whether the engine keeps time on its own now (cheaper than `state.degraded`). */
  get degraded(): boolean {
    return this.synthetic !== null;
  }

  /** The tempo followed now (cheaper than `state.tempoBpm`). */
  get currentTempoBpm(): number {
    return this.tempoBpm;
  }

  /** The last delivered beat, or null (cheaper than `state.currentBeat`). */
  get lastBeat(): Beat | null {
    return this.currentBeat;
  }

  /** A frozen snapshot of the engine's state and counters. */
  get state(): BeatEngineState {
    return Object.freeze({
      currentBeat: this.currentBeat,
      windowId: this.currentBeat?.window_id ?? '',
      tempoBpm: this.tempoBpm,
      beatsPerBar: this.beatsPerBar,
      degraded: this.synthetic !== null,
      followedPulseId: this.followedPulseId,
      timeDriftMs: this.timeDriftMs,
      elapsedBeats: this.elapsed,
      counters: Object.freeze({ ...this.counters }),
    });
  }

  /**
   * Begins the start-up wait: degradation starts one period (at the fallback tempo, unless a
   * frame already set one) plus the tolerance from now unless a pulse frame comes first.
   * Idempotent; does nothing once a frame was received or after `stop()`.
   */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    if (this.lastDueMs !== null) return;
    this.startedAtMs = this.now();
    this.armSilenceTimer();
  }

  /**
   * NATS cannot be reached: degradation starts at once. When no beat was ever due, the first
   * synthetic beat is due now and emitted now; otherwise the schedule keeps its phase: the
   * overdue slot, if any, is emitted now, else the first synthetic beat comes when it is due.
   * Like any degradation, it releases the pulse lock: the next pulse frame, from any pulse, is
   * followed and ends it. Does nothing while degraded or after `stop()`.
   */
  markUnreachable(): void {
    if (this.stopped || this.synthetic !== null) return;
    this.started = true;
    const now = this.now();
    if (this.lastDueMs === null) this.lastDueMs = now - periodMs(this.tempoBpm);
    this.degrade(now);
  }

  /**
   * Pushes an accepted frame of the judge (received now). Unless refused (`other-pulse`, or
   * `stale-frame`: see {@link LatenessReference}), it places the frame on the pulse's grid
   * (`FollowedGrid`; legacy frames restart it), re-bases the schedule (the last delivered
   * beat is due at its time on the grid), sets the tempo and bar length, ends any degradation,
   * and, for a pulse frame not flagged `hlcSkew`, merges its `hlc` into the clock, whether or
   * not it is then delivered. Legacy frames count as pulse frames for all of this except the
   * HLC merge and the staleness test (their `deadline_at` is made up on arrival).
   *
   * @param judged The judge's `{ ok: true }` verdict.
   * @return What became of it.
   */
  frame(judged: JudgedFrame): FrameOutcome {
    if (this.stopped) return { outcome: 'stopped' };
    const now = this.now();
    const wall = this.wallNow();
    const { frame, source } = judged;
    this.counters.framesReceived++;
    if (
      this.followedPulseId !== null &&
      frame.pulse_id !== this.followedPulseId &&
      !this.followedPulseSilent(now)
    ) {
      this.counters.otherPulse++;
      return { outcome: 'rejected', reason: 'other-pulse' };
    }
    const period = periodMs(frame.tempo_bpm);
    if (source === 'pulse' && !this.fresh(frame, now, wall, period)) {
      this.counters.staleFrames++;
      return { outcome: 'rejected', reason: 'stale-frame' };
    }
    this.followedPulseId = frame.pulse_id;
    this.mergeStamp(judged);
    const lateMs =
      this.lastDueMs === null ? null : now - (this.lastDueMs + periodMs(this.tempoBpm));
    this.tempoBpm = frame.tempo_bpm;
    this.beatsPerBar = frame.beats_per_bar;
    // Synthetic beats end here (the silence timer is armed again once the frame is handled).
    this.synthetic = null;

    const firstPulseFrame = !this.pulseFrameSeen;
    this.pulseFrameSeen = true;
    const last = this.lastIndex;
    let timelineReset = false;
    let missedBefore = 0;
    if (last !== null) {
      if (firstPulseFrame || frame.beat_index < last - frame.beats_per_bar) {
        timelineReset = true;
      } else if (frame.beat_index <= last) {
        this.placeOnGrid(judged, now, period, false);
        // Re-based: the last delivered beat is due at its time on the grid.
        this.lastDueMs = this.gridDue(last);
        this.counters.behind++;
        this.afterFrame();
        return { outcome: 'behind', lateMs };
      } else {
        missedBefore = frame.beat_index - last - 1;
      }
    }
    this.placeOnGrid(judged, now, period, timelineReset);
    this.lastDueMs = this.gridDue(frame.beat_index);
    const beat = beatFromFrame(frame, source, {
      receivedAtMs: wall,
      missedBefore,
      timelineReset,
    });
    this.deliver(beat);
    this.afterFrame();
    return { outcome: 'delivered', beat, lateMs };
  }

  /**
   * Whether a pulse frame is fresh (docs/protocol.md section 9, stale frames); a fresh one sets
   * `timeDriftMs`. The reference is the last followed pulse's, kept through a degradation so
   * that frames a partition held are still recognised; a frame of another pulse starts anew.
   */
  private fresh(frame: JudgedFrame['frame'], now: number, wall: number, period: number): boolean {
    const latenessMs = wall - (rfc3339Ms(frame.deadline_at) - period);
    if (!Number.isFinite(latenessMs)) return true; // the judge lets no such frame through
    if (this.lateness?.pulseId !== frame.pulse_id) {
      this.lateness = new LatenessReference(frame.pulse_id);
    }
    if (!this.lateness.judge(latenessMs, now, period, this.toleranceMs)) return false;
    this.timeDriftMs = latenessMs;
    return true;
  }

  private placeOnGrid(
    judged: JudgedFrame,
    now: number,
    period: number,
    timelineReset: boolean,
  ): void {
    const restart = judged.source === 'legacy' || timelineReset;
    if (this.grid.place(judged.frame, restart, now, period, this.toleranceMs)) {
      this.counters.gridRestarts++;
    }
  }

  /** When beat `index` is due on the grid (there is one once a frame was followed). */
  private gridDue(index: number): number {
    return this.grid.dueOf(index) ?? this.now();
  }

  /** What a frame leaves to do once its beat is delivered: off the path to subscribers. */
  private afterFrame(): void {
    this.armSilenceTimer();
  }

  /** Completes the streams and clears the timers. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelTimer();
    this.leadObserver?.complete();
    this.beats.complete();
    this.downbeats.complete();
  }

  /** Whether the followed pulse has been silent past the degradation point. */
  private followedPulseSilent(now: number): boolean {
    if (this.synthetic !== null) return true;
    // The silence timer may not have run yet (a stalled event loop): time decides.
    return this.lastDueMs !== null && now >= this.silenceDeadline();
  }

  private mergeStamp(judged: JudgedFrame): void {
    if (judged.source !== 'pulse') return; // legacy frames carry the agent's own stamp
    if (!judged.hlcSkew && this.clock.receive(judged.frame.hlc) !== null) {
      this.counters.hlcMerged++;
    } else {
      this.counters.hlcMergesSkipped++;
    }
  }

  /** When the degradation point comes: one period plus the tolerance after the last due beat. */
  private silenceDeadline(): number {
    const anchor = this.lastDueMs ?? this.startedAtMs ?? this.now();
    return anchor + periodMs(this.tempoBpm) + this.toleranceMs;
  }

  /**
   * Arms the silence timer for the degradation point, replacing a pending timer due at another
   * time; does nothing while degraded (the synthetic schedule owns the timer then). After a
   * frame it runs once the beat is delivered, off the path to subscribers. It is re-armed on
   * every frame: a lazy timer left to fire early and re-arm itself would, whenever the tolerance
   * is a whole number of periods (100 ms at 600 BPM), fire just as a frame arrives and hold the
   * frame up.
   */
  private armSilenceTimer(): void {
    if (this.synthetic !== null) return;
    const deadline = this.silenceDeadline();
    if (this.timer !== null && this.silenceTimerDue === deadline) return;
    this.arm(deadline, () => {
      this.silenceTimerDue = null;
      if (this.silenceDeadline() > deadline) this.armSilenceTimer();
      else this.degrade(deadline);
    });
    this.silenceTimerDue = deadline;
  }

  /**
   * Starts degradation, `pointMs` being the degradation point: the latest slot due then is the
   * first synthetic beat (slots before it are not emitted); slots that passed after it, while
   * the timer was held up, are skipped and counted.
   */
  private degrade(pointMs: number): void {
    const anchorMs = this.lastDueMs ?? this.startedAtMs ?? pointMs;
    const period = periodMs(this.tempoBpm);
    const firstSlot = Math.max(1, latestSlotAt(anchorMs, period, pointMs));
    this.followedPulseId = null;
    this.synthetic = { anchorMs, period, slot: firstSlot - 1 };
    if (slotDueMs(anchorMs, period, firstSlot) <= this.now()) {
      this.emitSynthetic();
    } else {
      this.arm(slotDueMs(anchorMs, period, firstSlot), () => this.emitSynthetic());
    }
  }

  /** Emits the synthetic beat of the slot due now and arms the timer for the next slot. */
  private emitSynthetic(): void {
    const schedule = this.synthetic;
    if (schedule === null) return;
    const now = this.now();
    const expected = schedule.slot + 1;
    // A timer that fires a little early still stands for its slot; one held up skips slots.
    const slot = Math.max(expected, latestSlotAt(schedule.anchorMs, schedule.period, now));
    const skipped = slot - expected;
    let beatIndex = this.lastIndex === null ? skipped : this.lastIndex + 1 + skipped;
    let timelineReset = false;
    if (this.lastIndex !== null && skipped >= MAX_BEAT_INDEX - this.lastIndex) {
      // Past 2^53−1 the beat goes on: a new timeline from 0, in the same phase (the grid is
      // renumbered, not restarted). Computed without forming an index beyond 2^53−1.
      beatIndex = skipped - (MAX_BEAT_INDEX - this.lastIndex);
      timelineReset = true;
      this.grid.renumber(-(MAX_BEAT_INDEX + 1));
    }
    schedule.slot = slot;
    this.lastDueMs = slotDueMs(schedule.anchorMs, schedule.period, slot);
    const nextDueMs = slotDueMs(schedule.anchorMs, schedule.period, slot + 1);
    this.arm(nextDueMs, () => this.emitSynthetic());
    const wall = this.wallNow();
    this.deliver(
      syntheticBeat({
        clusterId: this.clusterId,
        agentId: this.agentId,
        beatIndex,
        beatsPerBar: this.beatsPerBar,
        tempoBpm: this.tempoBpm,
        hlc: this.clock.tick(),
        nextDueWallMs: wall + (nextDueMs - now),
        receivedAtMs: wall,
        missedBefore: skipped,
        timelineReset,
      }),
    );
  }

  private deliver(beat: Beat): void {
    const last = this.lastIndex;
    this.elapsed += elapsedSince(last ?? undefined, beat);
    const firstOfWindow = beat.timelineReset || beat.window_id !== this.lastWindowId;
    this.lastIndex = beat.beat_index;
    this.lastWindowId = beat.window_id;
    this.currentBeat = beat;
    this.counters.missed += beat.missedBefore;
    if (beat.timelineReset) this.counters.timelineResets++;
    if (beat.source === 'pulse') this.counters.pulseBeats++;
    else if (beat.source === 'legacy') this.counters.legacyBeats++;
    else this.counters.syntheticBeats++;
    this.leadObserver?.next(beat);
    this.beats.next(beat);
    if (firstOfWindow) this.downbeats.next(beat);
    this.afterDelivery?.(beat);
  }

  /** Replaces the one pending timer by `work` at monotonic time `dueMs`. */
  private arm(dueMs: number, work: () => void): void {
    this.cancelTimer();
    if (this.stopped) return;
    const delayMs = Math.max(0, dueMs - this.now());
    this.timer = this.scheduler.schedule(() => {
      this.timer = null;
      work();
    }, delayMs);
  }

  private cancelTimer(): void {
    this.timer?.unsubscribe();
    this.timer = null;
    this.silenceTimerDue = null;
  }
}
