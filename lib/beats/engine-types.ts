/** The beat engine's shapes: what it takes, what it tells, and its options. */
import type { Observer, SchedulerLike } from 'rxjs';
import type { HybridLogicalClock } from '../clock/hlc';
import type { FrameVerdict } from '../protocol/judge';
import type { Beat } from './beat';

/** An accepted verdict of the frame judge: what `BeatEngine.frame` takes. */
export type JudgedFrame = Extract<FrameVerdict, { ok: true }>;

/**
 * Why the engine refused a judged frame (docs/protocol.md section 9): a frame of another pulse than
 * the one followed (`other-pulse`), or a frame of the past (`stale-frame`: held in a socket
 * through a partition, or queued while the event loop was blocked).
 */
export type BeatEngineRejectReason = 'other-pulse' | 'stale-frame';

/** Every {@link BeatEngineRejectReason}. */
export const BEAT_ENGINE_REJECT_REASONS: readonly BeatEngineRejectReason[] = Object.freeze([
  'other-pulse',
  'stale-frame',
]);

/**
 * What became of a judged frame:
 * - `delivered`: it is the new current beat;
 * - `behind`: at or below the last delivered index, not delivered, but it re-based the schedule
 *   and set the tempo and bar length;
 * - `rejected`: another pulse than the one followed (`other-pulse`), or a stale frame
 *   (`stale-frame`): nothing changed;
 * - `stopped`: the engine is stopped: nothing changed.
 *
 * `lateMs` (monotonic) is how late the frame came against the engine's own schedule: its
 * arrival minus one period (at the tempo known before it) after the last beat was due on the
 * pulse's grid; on time when at most the jitter tolerance. null when no beat was ever due.
 */
export type FrameOutcome =
  | { readonly outcome: 'delivered'; readonly beat: Beat; readonly lateMs: number | null }
  | { readonly outcome: 'behind'; readonly lateMs: number | null }
  | { readonly outcome: 'rejected'; readonly reason: BeatEngineRejectReason }
  | { readonly outcome: 'stopped' };

/** Counters of a `BeatEngine`, from its construction. */
export interface BeatEngineCounters {
  /** Judged frames passed to `frame()` while running. */
  readonly framesReceived: number;
  /** Beats delivered from pulse frames. */
  readonly pulseBeats: number;
  /** Beats delivered from converted legacy frames. */
  readonly legacyBeats: number;
  /** Synthetic beats delivered. */
  readonly syntheticBeats: number;
  /** Indexes skipped: before a frame ahead of the last delivered one, or synthetic slots passed in a stall. */
  readonly missed: number;
  /** Timeline resets. */
  readonly timelineResets: number;
  /** Frames not delivered because they were at or below the last delivered index. */
  readonly behind: number;
  /** Frames refused as `other-pulse`. */
  readonly otherPulse: number;
  /** Frames refused as `stale-frame`. */
  readonly staleFrames: number;
  /** Times the grid restarted (docs/protocol.md section 9), the first frame's start included. */
  readonly gridRestarts: number;
  /** Pulse frame stamps merged into the HLC. */
  readonly hlcMerged: number;
  /** Pulse frame stamps not merged: flagged `hlcSkew` by the judge, or refused by the clock. */
  readonly hlcMergesSkipped: number;
}

/** A snapshot of a `BeatEngine`. */
export interface BeatEngineState {
  /** The last delivered beat, null before any. */
  readonly currentBeat: Beat | null;
  /** Its window id, `''` before any. */
  readonly windowId: string;
  /** The last known tempo (the fallback tempo before any frame). */
  readonly tempoBpm: number;
  /** The last known bar length (the configured one before any frame). */
  readonly beatsPerBar: number;
  /** Whether synthetic beats are being made (local degradation). */
  readonly degraded: boolean;
  /** The pulse followed, null when none is (before the first frame, and while degraded). */
  readonly followedPulseId: string | null;
  /**
   * Wall-clock lateness (ms) of the last fresh pulse frame against the pulse's own schedule:
   * its arrival minus when its beat was due by its own `deadline_at`, that is
   * `receivedAtMs − (deadline_at − 60000 / tempo_bpm)`. Positive: frames arrive late (network
   * latency plus the wall-clock offset between the pulse and this host). It does not move
   * beats, which follow the pulse's grid on the monotonic clock. 0 before any pulse frame;
   * legacy frames (whose `deadline_at` the SDK makes up) and stale frames leave it unchanged.
   */
  readonly timeDriftMs: number;
  /** The running count of elapsed beats (docs/protocol.md section 9); 0 before any beat. */
  readonly elapsedBeats: number;
  readonly counters: BeatEngineCounters;
}

/** Options of a `BeatEngine`. */
export interface BeatEngineOptions {
  /** The cluster id: synthetic frames' `cluster_id` and windows. */
  readonly clusterId: string;
  /** This agent's id: synthetic frames' `pulse_id`. */
  readonly agentId: string;
  /** Lateness (ms) still counted as on time; degradation starts one period plus this after a beat was due. */
  readonly jitterToleranceMs: number;
  /** Bar length of synthetic frames before any pulse frame (1–64). */
  readonly beatsPerBar: number;
  /** Tempo of synthetic frames when no tempo was ever seen (1–6000). */
  readonly fallbackTempoBpm: number;
  /**
   * The agent's HLC: pulse stamps are merged into it before their beat is delivered, synthetic
   * frames are stamped by it.
   */
  readonly clock: EngineClock;
  /**
   * Told of each delivered beat before any subscriber of `beats$`, by a plain call, and completed
   * before `beats$` at `stop()`: the client's shared budget index, so that a budget started by a
   * subscriber of a beat counts from the next one. It must not throw.
   */
  readonly leadObserver?: Pick<Observer<Beat>, 'next' | 'complete'>;
  /** Called once every subscriber has had a delivered beat (a pulse, legacy or synthetic one). */
  readonly afterDelivery?: (beat: Beat) => void;
  /** Runs the engine's timers. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /**
   * The monotonic clock (ms). Default `performance.now()` with the `asyncScheduler` family,
   * else `scheduler.now()` (a `TestScheduler`'s virtual time). Under `TestScheduler.run`, pass
   * the test scheduler as `scheduler`.
   */
  readonly now?: () => number;
  /** The wall clock (ms since the epoch): `receivedAtMs`, `deadline_at`, drift. Default `Date.now`. */
  readonly wallNow?: () => number;
}

/** What the engine needs of the agent's `HybridLogicalClock`. */
export type EngineClock = Pick<HybridLogicalClock, 'tick' | 'receive'>;

/**
 * Throws RangeError when the tolerance is negative or the bar length or tempo is out of range.
 */
export function checkEngineOptions(options: BeatEngineOptions): void {
  if (!(options.jitterToleranceMs >= 0) || !Number.isFinite(options.jitterToleranceMs)) {
    throw new RangeError(
      `jitterToleranceMs must be a finite number ≥ 0, got ${options.jitterToleranceMs}`,
    );
  }
  if (
    !Number.isInteger(options.beatsPerBar) ||
    options.beatsPerBar < 1 ||
    options.beatsPerBar > 64
  ) {
    throw new RangeError(`beatsPerBar must be an integer from 1 to 64, got ${options.beatsPerBar}`);
  }
  if (!(options.fallbackTempoBpm >= 1 && options.fallbackTempoBpm <= 6000)) {
    throw new RangeError(
      `fallbackTempoBpm must be from 1 to 6000, got ${options.fallbackTempoBpm}`,
    );
  }
}
