import type { Observable, Observer } from 'rxjs';
import { elapsedSince, type CountedBeat } from './elapsed';

export { elapsedSince, type CountedBeat };

/** A node of the index's intrusive circular lists; a lone node linked to itself is unlisted. */
interface Link {
  before: Link;
  after: Link;
}

function emptyList(): Link {
  const list = {} as Link;
  list.before = list.after = list;
  return list;
}

function append(list: Link, node: Link): void {
  node.before = list.before;
  node.after = list;
  list.before.after = node;
  list.before = node;
}

/** Moves every node of `list` to a new list (so `list` can take newcomers meanwhile). */
function detachAll(list: Link): Link {
  const detached = emptyList();
  if (list.after !== list) {
    detached.after = list.after;
    detached.before = list.before;
    detached.after.before = detached.before.after = detached;
    list.after = list.before = list;
  }
  return detached;
}

/**
 * A pending budget as a {@link SharedBudgetIndex} holds it. The operator's own per-budget
 * record extends it, so a budget costs one object (plus its subscriptions), no Set entry.
 */
export abstract class IndexedBudget implements Link {
  /** @internal list links, managed by the index. */
  before: Link = this;
  /** @internal */
  after: Link = this;
  /** @internal The index's elapsed total at which it expires; NaN until its first beat. */
  expiresAt = Number.NaN;

  /**
   * @param budget Beats the budget lasts, a positive integer.
   * @param startBeat The index counted from; `undefined` until the first beat when not given.
   */
  constructor(
    readonly budget: number,
    public startBeat: number | undefined,
  ) {}

  /** The budget ran out on the beat at `expiredAtBeat`; it has left the index. */
  abstract expire(expiredAtBeat: number): void;
  /** The beat source completed first; the budget has left the index. */
  abstract beatSourceClosed(): void;
  /** The beat source errored; the budget has left the index. */
  abstract beatSourceFailed(error: unknown): void;
}

/**
 * The one deadline index of a shared beat source (a client's `beat$`): pending budgets sit in
 * buckets keyed by the running count of elapsed beats at which they expire, so a beat costs
 * time in proportion to the budgets that expire on it (and those started since the previous
 * beat), not to every pending one.
 *
 * Feed it every delivered beat, in order, through `next` before the beat reaches the beat
 * stream's own subscribers (so a budget started by a subscriber of that beat counts from the
 * next one, exactly as its own subscription would), and end it with `complete` (pending budgets
 * error with `BeatSourceClosedError`) or `error`. It is an `Observer`, so `beat$.subscribe(index)`
 * feeds it too; {@link registerSharedBeatSource} makes `withinBeats` use it.
 */
export class SharedBudgetIndex implements Observer<CountedBeat> {
  private readonly buckets = new Map<number, Link>();
  /** Budgets added since the last beat: their first beat decides their key. */
  private arrivals = emptyList();
  private elapsedTotal = 0;
  private lastIndex: number | undefined = undefined;
  private ending: { failed: boolean; error: unknown } | null = null;
  private pendingCount = 0;

  /** Running count of elapsed beats, after the last beat fed. */
  get elapsed(): number {
    return this.elapsedTotal;
  }

  /** The index of the last beat fed (the current beat), or undefined before any. */
  get current(): number | undefined {
    return this.lastIndex;
  }

  /** Number of budgets waiting. */
  get size(): number {
    return this.pendingCount;
  }

  /** Whether `complete` or `error` was called. */
  get ended(): boolean {
    return this.ending !== null;
  }

  /**
   * Adds a budget; after the end it is told so at once. A budget with no `startBeat` counts
   * from the current beat (docs/protocol.md section 9), when one is known.
   */
  add(budget: IndexedBudget): void {
    if (this.ending) {
      this.tellEnd(budget, this.ending);
      return;
    }
    budget.startBeat ??= this.lastIndex;
    append(this.arrivals, budget);
    this.pendingCount++;
  }

  /** Removes a budget (completed, errored or unsubscribed); does nothing if it is not pending. */
  remove(budget: IndexedBudget): void {
    const { before, after } = budget;
    if (before === budget) return;
    before.after = after;
    after.before = before;
    budget.before = budget.after = budget;
    this.pendingCount--;
    // Left alone in its list, `before` is that list's head: drop an empty bucket from the map.
    if (before === after && this.buckets.get(budget.expiresAt) === before) {
      this.buckets.delete(budget.expiresAt);
    }
  }

  /** Counts a delivered beat and expires the budgets that run out on it. */
  next(beat: CountedBeat): void {
    if (this.ending) return;
    const previousTotal = this.elapsedTotal;
    const total = (this.elapsedTotal += elapsedSince(this.lastIndex, beat));
    this.lastIndex = beat.beat_index;
    if (this.pendingCount === 0) return; // the common case: nothing to expire or to settle
    // Budgets added while this beat expires others wait for the next beat.
    const arrivals = detachAll(this.arrivals);
    this.expireThrough(previousTotal, total, beat.beat_index);
    this.settle(arrivals, beat, total);
  }

  /** The beat source completed: every pending budget errors with `BeatSourceClosedError`. */
  complete(): void {
    this.end({ failed: false, error: undefined });
  }

  /** The beat source errored: every pending budget errors with `error`. */
  error(error: unknown): void {
    this.end({ failed: true, error });
  }

  private expireThrough(previousTotal: number, total: number, beatIndex: number): void {
    // A gap of many beats walks the (fewer) keys instead of every count it skipped.
    if (total - previousTotal <= this.buckets.size) {
      for (let key = previousTotal + 1; key <= total; key++) this.expireBucket(key, beatIndex);
      return;
    }
    const due = [...this.buckets.keys()].filter((key) => key <= total).sort((a, b) => a - b);
    for (const key of due) this.expireBucket(key, beatIndex);
  }

  private expireBucket(key: number, beatIndex: number): void {
    const bucket = this.buckets.get(key);
    if (!bucket) return;
    this.buckets.delete(key);
    this.drain(bucket, (budget) => budget.expire(beatIndex));
  }

  /** Gives each newcomer its key from its first beat, or expires it on that beat. */
  private settle(arrivals: Link, beat: CountedBeat, total: number): void {
    while (arrivals.after !== arrivals) {
      const budget = arrivals.after as IndexedBudget;
      const firstCount = elapsedSince(budget.startBeat, beat);
      budget.startBeat ??= beat.beat_index - 1;
      this.remove(budget);
      if (firstCount >= budget.budget) {
        budget.expire(beat.beat_index);
        continue;
      }
      budget.expiresAt = total - firstCount + budget.budget;
      let bucket = this.buckets.get(budget.expiresAt);
      if (!bucket) this.buckets.set(budget.expiresAt, (bucket = emptyList()));
      append(bucket, budget);
      this.pendingCount++;
    }
  }

  private end(ending: { failed: boolean; error: unknown }): void {
    if (this.ending) return;
    this.ending = ending;
    const lists = [...this.buckets.values(), detachAll(this.arrivals)];
    this.buckets.clear();
    for (const list of lists) this.drain(list, (budget) => this.tellEnd(budget, ending));
  }

  /** Unlinks each budget of `list` before calling back, so callbacks may add or remove any. */
  private drain(list: Link, callback: (budget: IndexedBudget) => void): void {
    while (list.after !== list) {
      const budget = list.after as IndexedBudget;
      const { after } = budget;
      list.after = after;
      after.before = list;
      budget.before = budget.after = budget;
      this.pendingCount--;
      callback(budget);
    }
  }

  private tellEnd(budget: IndexedBudget, ending: { failed: boolean; error: unknown }): void {
    if (ending.failed) budget.beatSourceFailed(ending.error);
    else budget.beatSourceClosed();
  }
}

const indexesBySource = new WeakMap<Observable<CountedBeat>, SharedBudgetIndex>();

/**
 * Makes `withinBeats` on `beat$` use `index` instead of a subscription per budget. `beat$` must
 * be the very Observable users pass (a getter must return the same object each time), and
 * `index` must see every beat `beat$` delivers.
 *
 * @param beat$ The shared beat stream, e.g. a client's `beat$`.
 * @param index The index fed with that stream's beats.
 */
export function registerSharedBeatSource(
  beat$: Observable<CountedBeat>,
  index: SharedBudgetIndex,
): void {
  indexesBySource.set(beat$, index);
}

const countersBySource = new WeakMap<Observable<CountedBeat>, SharedBudgetIndex>();

/**
 * Makes budgets on `beat$`, a stream of some of the beats `index` sees (a client's
 * `downbeat$`), count every beat by `index`: from the current beat, and each beat in between,
 * whatever `beat$` delivers. They still subscribe to `beat$` and expire only on its beats.
 *
 * @param beat$ The thinned stream, e.g. a client's `downbeat$`.
 * @param index The index that sees every beat, before `beat$` delivers any of them.
 */
export function registerCountedBeatSource(
  beat$: Observable<CountedBeat>,
  index: SharedBudgetIndex,
): void {
  countersBySource.set(beat$, index);
}

/**
 * The index that counts the beats of `beat$`, if one was registered.
 *
 * @param beat$ A beat stream.
 * @return The index counting its beats, or `undefined`.
 */
export function beatCounterOf(beat$: Observable<CountedBeat>): SharedBudgetIndex | undefined {
  return countersBySource.get(beat$);
}

/**
 * The index registered for `beat$`, if any.
 *
 * @param beat$ A beat stream.
 * @return Its shared index, or `undefined` when budgets on it subscribe on their own.
 */
export function sharedBudgetIndexOf(beat$: Observable<CountedBeat>): SharedBudgetIndex | undefined {
  return indexesBySource.get(beat$);
}
