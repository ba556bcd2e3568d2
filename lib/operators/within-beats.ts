import {
  from,
  isObservable,
  Observable,
  type MonoTypeOperatorFunction,
  type ObservableInput,
  type ObservedValueOf,
  type Observer,
  type OperatorFunction,
  type Subscriber,
  type Subscription,
  type Unsubscribable,
} from 'rxjs';
import {
  beatCounterOf,
  elapsedSince,
  IndexedBudget,
  sharedBudgetIndexOf,
  type CountedBeat,
  type SharedBudgetIndex,
} from '../beats/budget-index';
import { BeatBudgetExceededError, BeatSourceClosedError, type BeatBudgetInfo } from '../errors';

/**
 * The long form of {@link withinBeats}: the budget, the beats, where to count from and what to
 * switch to.
 *
 * @example
 * ```ts
 * const config: WithinBeatsConfig<Observable<string>> = {
 *   beats: 16,
 *   beat$: client.downbeat$,
 *   startBeat: client.getCurrentBeat(),
 *   with: (info) => of(`late by beat ${info.expiredAtBeat}`),
 * };
 * work$.pipe(withinBeats(config));
 * ```
 */
export interface WithinBeatsConfig<O extends ObservableInput<unknown> = ObservableInput<never>> {
  /** Beats the work may last: a positive integer. */
  beats: number;
  /** The beats to count, e.g. a client's `beat$` (or `downbeat$`: still counted in beats). */
  beat$: Observable<CountedBeat>;
  /**
   * The beat index counted from (an integer), usually the current beat. When left out: on a
   * client's `beat$` or `downbeat$`, the client's current beat (once it has one); on any other
   * stream, the first beat delivered after subscription counts as the first elapsed one.
   */
  startBeat?: number;
  /** Makes the Observable to switch to when the budget expires, instead of erroring. */
  with?: (info: BeatBudgetInfo) => O;
}

/**
 * Mirrors the source until `beats` beats have elapsed, then unsubscribes it and errors with
 * `BeatBudgetExceededError` (or switches to `with(info)`).
 *
 * Beats are counted by index (docs/protocol.md section 9): `max(1, index difference)` between
 * two delivered beats, one across a timeline reset, whatever stream is passed. On a client's
 * `beat$` or `downbeat$` a budget counts from the client's current beat, and on `downbeat$`
 * every beat the client delivers counts, so `withinBeats(8, client.downbeat$)` is eight beats,
 * seen at downbeat granularity (it expires on the first downbeat at which eight or more beats
 * have elapsed: less than a bar late). Tempo does not matter.
 * When `beat$` completes first the result errors with `BeatSourceClosedError`; when `beat$`
 * errors, its error passes through. A budget that is not a positive integer (or a `startBeat`
 * that is not an integer) is a `RangeError` notification on subscription. Completion, error or
 * unsubscription releases the source and the beat subscription. Budgets on a beat stream
 * registered with a `SharedBudgetIndex` (a client's `beat$`) wait in that index and share its
 * one subscription; on any other Observable each budget subscribes on its own.
 *
 * @example
 * ```ts
 * work$.pipe(withinBeats(10, client.beat$)).subscribe({
 *   error: (err) => err instanceof BeatBudgetExceededError && console.warn(err.info),
 * });
 * work$.pipe(withinBeats({ beats: 10, beat$, startBeat: client.getCurrentBeat(), with: () => of('late') }));
 * ```
 * @see {@link BeatBudgetExceededError}
 * @param config The budget, the beats, where to count from and what to switch to.
 * @return A function that returns an Observable mirroring the source until the budget expires.
 */
export function withinBeats<T, O extends ObservableInput<unknown>>(
  config: WithinBeatsConfig<O> & { with: (info: BeatBudgetInfo) => O },
): OperatorFunction<T, T | ObservedValueOf<O>>;
export function withinBeats<T>(
  config: Omit<WithinBeatsConfig, 'with'>,
): MonoTypeOperatorFunction<T>;
/**
 * Mirrors the source until `beats` beats of `beat$` have elapsed, then errors with
 * `BeatBudgetExceededError`. The same as `withinBeats({ beats, beat$ })`.
 *
 * @example
 * ```ts
 * work$.pipe(withinBeats(10, client.beat$));
 * ```
 * @param beats Beats the work may last: a positive integer.
 * @param beat$ The beats to count.
 * @return A function that returns an Observable mirroring the source until the budget expires.
 */
export function withinBeats<T>(
  beats: number,
  beat$: Observable<CountedBeat>,
): MonoTypeOperatorFunction<T>;
export function withinBeats<T, O extends ObservableInput<unknown>>(
  configOrBeats: number | WithinBeatsConfig<O>,
  beatSource?: Observable<CountedBeat>,
): OperatorFunction<T, T | ObservedValueOf<O>> {
  const config =
    typeof configOrBeats === 'number'
      ? { beats: configOrBeats, beat$: beatSource as Observable<CountedBeat> }
      : configOrBeats;
  const { beats, beat$, startBeat, with: fallback } = config;
  return (source) =>
    new Observable<T | ObservedValueOf<O>>((subscriber) => {
      if (!Number.isSafeInteger(beats) || beats < 1) {
        subscriber.error(
          new RangeError(`withinBeats: beats must be a positive integer, got ${beats}`),
        );
        return;
      }
      if (!isObservable(beat$)) {
        subscriber.error(new TypeError('withinBeats: beat$ must be an Observable of beats'));
        return;
      }
      if (startBeat !== undefined && !Number.isSafeInteger(startBeat)) {
        subscriber.error(
          new RangeError(`withinBeats: startBeat must be an integer, got ${startBeat}`),
        );
        return;
      }
      const budget = new BeatBudget<T, O>(subscriber, beats, startBeat, fallback);
      // Without a fallback, expiry errors the subscriber, which unsubscribes the source with
      // it: the source can feed the subscriber directly (one subscriber less per budget).
      if (fallback) budget.source = source.subscribe(budget);
      else source.subscribe(subscriber);
      if (!subscriber.closed) budget.watch(beat$);
      return budget;
    });
}

/**
 * One running budget: the source's observer, the index entry, and the subscriber's finalizer in
 * a single object, so a pending budget weighs little.
 */
class BeatBudget<T, O extends ObservableInput<unknown>>
  extends IndexedBudget
  implements Observer<T>, Unsubscribable
{
  source: Subscription | null = null;
  /** Where it waits: the shared index, or its own beat subscription. */
  private waiting: SharedBudgetIndex | OwnBeatCount | null = null;

  constructor(
    private readonly subscriber: Subscriber<T | ObservedValueOf<O>>,
    budget: number,
    startBeat: number | undefined,
    private readonly fallback: ((info: BeatBudgetInfo) => O) | undefined,
  ) {
    super(budget, startBeat);
  }

  watch(beat$: Observable<CountedBeat>): void {
    const index = sharedBudgetIndexOf(beat$);
    if (index) {
      this.waiting = index;
      index.add(this);
    } else {
      const own = (this.waiting = new OwnBeatCount(this, beatCounterOf(beat$)));
      own.listen(beat$);
    }
  }

  next(value: T): void {
    this.subscriber.next(value);
  }

  error(error: unknown): void {
    this.subscriber.error(error);
  }

  complete(): void {
    this.subscriber.complete();
  }

  expire(expiredAtBeat: number): void {
    this.release();
    const info: BeatBudgetInfo = { budget: this.budget, startBeat: this.startBeat!, expiredAtBeat };
    if (!this.fallback) {
      this.subscriber.error(new BeatBudgetExceededError(info));
      return;
    }
    try {
      from(this.fallback(info)).subscribe(this.subscriber);
    } catch (error) {
      this.subscriber.error(error);
    }
  }

  beatSourceClosed(): void {
    this.subscriber.error(new BeatSourceClosedError());
  }

  beatSourceFailed(error: unknown): void {
    this.subscriber.error(error);
  }

  /** The subscriber's finalizer. */
  unsubscribe(): void {
    this.release();
  }

  private release(): void {
    this.source?.unsubscribe();
    if (this.waiting instanceof OwnBeatCount) this.waiting.stop();
    else this.waiting?.remove(this);
  }
}

/**
 * A budget's own subscription to a beat stream that is not shared, and its own count: by the
 * indexes it sees, or, on a stream that sees only some of a client's beats (its `downbeat$`),
 * by the client's count of every beat since the current one.
 */
class OwnBeatCount implements Observer<CountedBeat> {
  private lastIndex: number | undefined;
  private elapsed = 0;
  private stopped = false;
  private subscription: Subscription | null = null;
  /** The client's count, and its value when the budget started; null: count by index. */
  private readonly counter: { index: SharedBudgetIndex; from: number } | null = null;

  constructor(
    private readonly budget: IndexedBudget,
    counter: SharedBudgetIndex | undefined,
  ) {
    // A startBeat of the caller's own, other than the current beat, is counted by index.
    if (
      counter &&
      !counter.ended &&
      (budget.startBeat === undefined || budget.startBeat === counter.current)
    ) {
      budget.startBeat ??= counter.current;
      this.counter = { index: counter, from: counter.elapsed };
    }
    this.lastIndex = budget.startBeat;
  }

  listen(beat$: Observable<CountedBeat>): void {
    const subscription = beat$.subscribe(this);
    // A synchronous beat source may have ended the budget while subscribing.
    if (this.stopped) subscription.unsubscribe();
    else this.subscription = subscription;
  }

  stop(): void {
    this.stopped = true;
    this.subscription?.unsubscribe();
  }

  next(beat: CountedBeat): void {
    if (this.stopped) return;
    const { budget } = this;
    budget.startBeat ??= beat.beat_index - 1;
    // The client has counted this beat already: the count may not have moved (a beat delivered
    // as the budget started), or moved by beats this stream never showed.
    this.elapsed = this.counter
      ? this.counter.index.elapsed - this.counter.from
      : this.elapsed + elapsedSince(this.lastIndex, beat);
    this.lastIndex = beat.beat_index;
    if (this.elapsed >= budget.budget) budget.expire(beat.beat_index);
  }

  error(error: unknown): void {
    if (!this.stopped) this.budget.beatSourceFailed(error);
  }

  complete(): void {
    if (!this.stopped) this.budget.beatSourceClosed();
  }
}
