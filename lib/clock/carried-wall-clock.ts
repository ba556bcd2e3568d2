/**
 * The wall clock as the monotonic clock carries it: the `pt` of the HLC (docs/protocol.md
 * section 7). A wall clock stepped for a few seconds (a bad NTP answer, an operator's `date -s`)
 * must leave no trace in any stamp: an hour ahead, every later stamp would be refused by every
 * observer as `clock-skew`; an hour behind, stamps would stop moving and turn `stale`.
 */

/**
 * Options of {@link carriedWallClock}.
 *
 * @example
 * ```ts
 * const pt = carriedWallClock({ wallNow: () => Date.now(), monoNow: () => performance.now() });
 * ```
 */
export interface CarriedWallClockOptions {
  /** The wall clock, ms since the epoch. Default `Date.now`. */
  readonly wallNow?: () => number;
  /** A monotonic clock, ms. Default `performance.now`. */
  readonly monoNow?: () => number;
  /** How long (ms) the wall clock must disagree, without a break, to be followed. Default 60000. */
  readonly followAfterMs?: number;
  /** A disagreement of at most this (ms) is no disagreement. Default 1000. */
  readonly toleranceMs?: number;
}

/**
 * A wall clock that a step of the system clock does not move until the step has lasted: the wall
 * time read now plus monotonic time since. It follows the wall clock again (jumps to it) only
 * once each read for `followAfterMs` in a row has found the two more than `toleranceMs` apart, so
 * that a real correction is taken within about a minute and a step undone sooner is never seen.
 * Disagreement is judged at reads: the client reads it at every beat and every claim.
 *
 * @example
 * ```ts
 * const clock = new HybridLogicalClock('agent-1', { physicalNow: carriedWallClock() });
 * messages$.pipe(verifyStatus({ trustedKeys, physicalNow: carriedWallClock() }));
 * ```
 * @param options The wall and monotonic clocks, how long a step must last and how large it must
 * be to be followed.
 * @return The carried wall clock, ms since the epoch (a wall clock that reads no finite number
 * is passed through until it does).
 * @throws RangeError when `followAfterMs` or `toleranceMs` is not a finite number ≥ 0.
 * @throws TypeError when `wallNow` or `monoNow` is not a function.
 */
export function carriedWallClock(options: CarriedWallClockOptions = {}): () => number {
  const {
    wallNow = () => Date.now(),
    monoNow = () => performance.now(),
    followAfterMs = 60_000,
    toleranceMs = 1000,
  } = options;
  for (const [name, value] of [
    ['wallNow', wallNow],
    ['monoNow', monoNow],
  ] as const) {
    if (typeof value !== 'function') throw new TypeError(`${name} must be a function`);
  }
  for (const [name, value] of [
    ['followAfterMs', followAfterMs],
    ['toleranceMs', toleranceMs],
  ] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`${name} must be a finite number ≥ 0, got ${String(value)}`);
    }
  }
  /** Wall minus monotonic time: the carried clock is `monoNow() + offset`. */
  let offset = NaN;
  /** The monotonic time of the first read of the current disagreement, null while they agree. */
  let disagreeingSince: number | null = null;

  const read = (): number => {
    const mono = monoNow();
    const wall = wallNow();
    if (!Number.isFinite(wall)) return Number.isFinite(offset) ? mono + offset : wall;
    if (!Number.isFinite(offset)) {
      offset = wall - mono;
      return wall;
    }
    const carried = mono + offset;
    if (Math.abs(wall - carried) <= toleranceMs) {
      disagreeingSince = null;
      return carried;
    }
    disagreeingSince ??= mono;
    if (mono - disagreeingSince < followAfterMs) return carried;
    // The step has lasted: a real correction, followed from now on.
    disagreeingSince = null;
    offset = wall - mono;
    return wall;
  };
  read(); // the wall time read at start
  return read;
}
