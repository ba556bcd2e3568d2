/**
 * The pulse's grid (docs/protocol.md section 9): when each beat index is due on this host's
 * monotonic clock, learnt from the earliest arrivals of the pulse's frames.
 */

/** Frames the min filter remembers: enough to ride out a burst of held-up frames. */
export const GRID_WINDOW = 16;

/** Late frames in a row after which the grid restarts (the pulse's phase moved). */
export const GRID_LATE_RESTART = 3;

/**
 * Beat `k` is due at `offset + (k − origin) × period`, where `offset` is the smallest of
 * `arrival − (k − origin) × period` over the last {@link GRID_WINDOW} frames since the grid
 * restarted: a min filter. A frame held up (by the network, the pulse's timer, a busy event
 * loop) does not move the grid; a frame earlier than it moves it at once. Indexes, not wall
 * clocks, place frames on it.
 *
 * @example
 * const grid = new PulseGrid(500);
 * grid.restart(10, 1000);
 * grid.add(11, 1530); // 30 ms late: the grid stays
 * grid.dueOf(12); // 2000
 * grid.add(12, 1990); // 10 ms early: the grid moves
 * grid.dueOf(13); // 2490
 */
export class PulseGrid {
  /** The index the grid last restarted from. */
  private origin = 0;
  /** Offsets (due time of `origin`) of the last frames, oldest first. */
  private readonly offsets: number[] = [];
  /** Their minimum: the grid's offset. */
  private offset = 0;
  /** Frames in a row that came more than the tolerance late. */
  private lateInARow = 0;

  /** @param period The beat period (ms) the grid is laid out with. */
  constructor(readonly period: number) {}

  /**
   * Restarts the grid from a frame: its beat is due at its arrival.
   *
   * @param index The frame's beat index.
   * @param arrivalMs Its arrival (monotonic ms).
   */
  restart(index: number, arrivalMs: number): void {
    this.origin = index;
    this.offsets.length = 0;
    this.offsets.push(arrivalMs);
    this.offset = arrivalMs;
    this.lateInARow = 0;
  }

  /**
   * When beat `index` is due on the grid (monotonic ms).
   *
   * @param index A beat index.
   * @return `offset + (index − origin) × period`.
   */
  dueOf(index: number): number {
    return this.offset + (index - this.origin) * this.period;
  }

  /**
   * Places a frame on the grid: the min filter takes it, and three frames in a row more than
   * `toleranceMs` late restart the grid from the third.
   *
   * @param index The frame's beat index.
   * @param arrivalMs Its arrival (monotonic ms).
   * @param toleranceMs Lateness still on time.
   * @return Whether the grid restarted from this frame.
   */
  add(index: number, arrivalMs: number, toleranceMs: number): boolean {
    if (arrivalMs - this.dueOf(index) > toleranceMs) {
      if (++this.lateInARow >= GRID_LATE_RESTART) {
        this.restart(index, arrivalMs);
        return true;
      }
    } else {
      this.lateInARow = 0;
    }
    const offset = arrivalMs - (index - this.origin) * this.period;
    this.offsets.push(offset);
    if (this.offsets.length > GRID_WINDOW) {
      const dropped = this.offsets.shift();
      if (dropped === this.offset) {
        this.offset = Math.min(...this.offsets);
        return false;
      }
    }
    if (offset < this.offset) this.offset = offset;
    return false;
  }

  /**
   * Renumbers the grid so that `index + shift` is due when `index` was: used when the timeline
   * wraps from 2^53−1 to 0 and keeps its phase.
   *
   * @param shift What to add to every index (negative to wrap).
   */
  renumber(shift: number): void {
    this.origin += shift;
  }
}

/**
 * The grid of the pulse followed: restarted from a frame on a tempo or bar-length change, a
 * pulse switch, a timeline reset, a legacy frame (due at its arrival), or
 * {@link GRID_LATE_RESTART} frames in a row more than the tolerance late.
 */
export class FollowedGrid {
  private grid: PulseGrid | null = null;
  private pulseId = '';
  private beatsPerBar = 0;

  /**
   * Places a followed frame, received at `now`.
   *
   * @param restart Restart from it whatever the grid (a legacy frame, a timeline reset).
   * @return Whether the grid restarted.
   */
  place(
    frame: {
      readonly beat_index: number;
      readonly pulse_id: string;
      readonly beats_per_bar: number;
    },
    restart: boolean,
    now: number,
    period: number,
    toleranceMs: number,
  ): boolean {
    const grid = this.grid;
    if (
      grid === null ||
      restart ||
      grid.period !== period ||
      this.beatsPerBar !== frame.beats_per_bar ||
      this.pulseId !== frame.pulse_id
    ) {
      this.grid = new PulseGrid(period);
      this.grid.restart(frame.beat_index, now);
      this.pulseId = frame.pulse_id;
      this.beatsPerBar = frame.beats_per_bar;
      return true;
    }
    return grid.add(frame.beat_index, now, toleranceMs);
  }

  /** When beat `index` is due, null before the first frame. */
  dueOf(index: number): number | null {
    return this.grid === null ? null : this.grid.dueOf(index);
  }

  /** Shifts the indexes by `shift` (a new timeline), keeping the phase. */
  renumber(shift: number): void {
    this.grid?.renumber(shift);
  }
}
