/**
 * Stale frames (docs/protocol.md section 9): frames held in a socket through a partition, or queued
 * while the event loop was blocked, are news of the past. Told apart by their wall-clock
 * lateness against the pulse's own schedule, compared with the pulse's recent frames.
 */
import { GRID_WINDOW } from './grid';

/** Stale-looking frames in a row, a period apart, that mean the pulse's clock moved. */
export const CLOCK_STEP_FRAMES = 3;

/** A stale-looking frame, kept while deciding whether the pulse's clock moved. */
interface Suspect {
  readonly arrivalMs: number;
  readonly latenessMs: number;
}

/**
 * The lateness reference of one pulse: a frame is stale when its lateness (wall arrival minus
 * `deadline_at − period`) exceeds the smallest lateness among the pulse's last
 * {@link GRID_WINDOW} fresh frames by more than one period plus the tolerance: its successor
 * was already due when it came. Three stale-looking frames in a row that arrive about a period
 * apart (not in a burst) and agree with each other mean the pulse's own clock stepped: the
 * reference restarts from them and the third is fresh.
 *
 * The same holds the other way: a frame earlier than the reference by more than one period
 * plus the tolerance is fresh, but it moves the reference only with two more like it in a row,
 * a period apart (the pulse's clock stepped ahead). So one frame with a `deadline_at` far in
 * the future (forged, or damaged) cannot make the pulse's next frames look stale.
 *
 * @example
 * const reference = new LatenessReference('pulse-1');
 * reference.judge(12, 1000, 500, 100); // true: fresh (the first frame always is)
 * reference.judge(30_000, 1500, 500, 100); // false: stale, 30 s late
 */
export class LatenessReference {
  /** Latenesses of the last fresh frames, oldest first. */
  private readonly latenesses: number[] = [];
  /** Frames in a row far from the reference, in one direction (`late` or `early`). */
  private readonly suspects: Suspect[] = [];
  private suspectsLate = true;

  /** @param pulseId The pulse whose frames it judges. */
  constructor(readonly pulseId: string) {}

  /**
   * Judges one frame of the pulse and learns from it.
   *
   * @param latenessMs The frame's wall-clock lateness (ms).
   * @param arrivalMs Its arrival (monotonic ms).
   * @param period Its beat period (ms).
   * @param toleranceMs The jitter tolerance (ms).
   * @return true when it is fresh, false when it is stale.
   */
  judge(latenessMs: number, arrivalMs: number, period: number, toleranceMs: number): boolean {
    if (this.latenesses.length === 0) {
      this.remember(latenessMs);
      return true;
    }
    const reference = Math.min(...this.latenesses);
    const late = latenessMs - reference > period + toleranceMs;
    const early = reference - latenessMs > period + toleranceMs;
    if (!late && !early) {
      this.suspects.length = 0;
      this.remember(latenessMs);
      return true;
    }
    if (this.suspect(late, latenessMs, arrivalMs, period, toleranceMs)) {
      // The pulse's clock moved: its frames since are the reference.
      this.latenesses.length = 0;
      for (const suspect of this.suspects) this.remember(suspect.latenessMs);
      this.suspects.length = 0;
      return true;
    }
    return early;
  }

  /** Adds a frame far from the reference to the run; true once the run shows a clock step. */
  private suspect(
    late: boolean,
    latenessMs: number,
    arrivalMs: number,
    period: number,
    toleranceMs: number,
  ): boolean {
    const previous = this.suspects.at(-1);
    const apart =
      previous !== undefined &&
      this.suspectsLate === late &&
      arrivalMs - previous.arrivalMs >= period / 2 &&
      arrivalMs - previous.arrivalMs <= period * 1.5 + toleranceMs &&
      Math.abs(latenessMs - previous.latenessMs) <= period / 2 + toleranceMs;
    if (!apart) this.suspects.length = 0;
    this.suspectsLate = late;
    this.suspects.push({ arrivalMs, latenessMs });
    return this.suspects.length >= CLOCK_STEP_FRAMES;
  }

  private remember(latenessMs: number): void {
    this.latenesses.push(latenessMs);
    if (this.latenesses.length > GRID_WINDOW) this.latenesses.shift();
  }
}
