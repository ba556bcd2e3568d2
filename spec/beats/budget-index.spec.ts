import fc from 'fast-check';
import { NEVER, Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  elapsedSince,
  IndexedBudget,
  registerSharedBeatSource,
  SharedBudgetIndex,
  sharedBudgetIndexOf,
  type CountedBeat,
} from '../../lib/beats/budget-index';
import { shareBeatBudgets } from './shared-budgets';
import { BeatBudgetExceededError, BeatSourceClosedError } from '../../lib/errors';
import { withinBeats } from '../../lib/operators/within-beats';

function beat(index: number, timelineReset = false): CountedBeat {
  return { beat_index: index, timelineReset };
}

/** Records what the index tells it. */
class RecordingBudget extends IndexedBudget {
  readonly events: string[] = [];
  onExpire: () => void = () => undefined;

  expire(expiredAtBeat: number): void {
    this.events.push(`expired at ${expiredAtBeat} from ${this.startBeat}`);
    this.onExpire();
  }

  beatSourceClosed(): void {
    this.events.push('closed');
  }

  beatSourceFailed(error: unknown): void {
    this.events.push(`failed: ${(error as Error).message}`);
  }
}

describe('elapsedSince', () => {
  it('counts the index difference, at least one, and one across a reset or from nothing', () => {
    expect(elapsedSince(4, beat(5))).toBe(1);
    expect(elapsedSince(4, beat(9))).toBe(5);
    expect(elapsedSince(4, beat(4))).toBe(1);
    expect(elapsedSince(4, beat(2))).toBe(1);
    expect(elapsedSince(4, beat(900, true))).toBe(1);
    expect(elapsedSince(undefined, beat(900))).toBe(1);
  });
});

describe('SharedBudgetIndex', () => {
  it('expires each budget on the beat at which its beats have elapsed, from the current beat when it has no start', () => {
    const index = new SharedBudgetIndex();
    const beforeAny = new RecordingBudget(3, undefined);
    index.add(beforeAny);
    index.next(beat(10)); // the first beat counts as the first elapsed one: from 9
    const fromCurrent = new RecordingBudget(3, 10);
    const unset = new RecordingBudget(3, undefined);
    const fromEarlier = new RecordingBudget(3, 8);
    index.add(fromCurrent);
    index.add(unset);
    index.add(fromEarlier);
    expect(unset.startBeat).toBe(10);
    expect(index.size).toBe(4);
    index.next(beat(11));
    expect(fromEarlier.events).toEqual(['expired at 11 from 8']);
    index.next(beat(12));
    expect(beforeAny.events).toEqual(['expired at 12 from 9']);
    expect(fromCurrent.events).toEqual([]);
    index.next(beat(13));
    expect(fromCurrent.events).toEqual(['expired at 13 from 10']);
    expect(unset.events).toEqual(['expired at 13 from 10']);
    expect(index.size).toBe(0);
  });

  it('counts a budget with no start from the current beat across a gap (issue 14)', () => {
    const index = new SharedBudgetIndex();
    index.next(beat(5));
    const budget = new RecordingBudget(3, undefined);
    index.add(budget);
    index.next(beat(9));
    expect(budget.events).toEqual(['expired at 9 from 5']);
  });

  it('counts gaps by index and a timeline reset as one', () => {
    const index = new SharedBudgetIndex();
    index.next(beat(0));
    const budget = new RecordingBudget(6, 0);
    index.add(budget);
    index.next(beat(3)); // 3
    index.next(beat(1000, true)); // 4
    index.next(beat(1001)); // 5
    expect(budget.events).toEqual([]);
    index.next(beat(1002)); // 6
    expect(budget.events).toEqual(['expired at 1002 from 0']);
    expect(index.elapsed).toBe(1 + 3 + 1 + 1 + 1);
  });

  it('expires a budget on its first beat when that beat already covers it', () => {
    const index = new SharedBudgetIndex();
    const budget = new RecordingBudget(5, 10);
    index.add(budget);
    index.next(beat(15));
    expect(budget.events).toEqual(['expired at 15 from 10']);
  });

  it('expires every budget a long gap passes, in the order of their deadlines', () => {
    const index = new SharedBudgetIndex();
    index.next(beat(0));
    const order: number[] = [];
    for (const beats of [7, 2, 50, 3]) {
      const budget = new RecordingBudget(beats, 0);
      budget.onExpire = () => order.push(beats);
      index.add(budget);
    }
    const later = new RecordingBudget(2e12, 0);
    index.add(later);
    index.next(beat(1));
    index.next(beat(1e12));
    expect(order).toEqual([2, 3, 7, 50]);
    expect(later.events).toEqual([]);
    expect(index.size).toBe(1);
  });

  it('makes a budget added while a beat expires others wait for the next beat', () => {
    const index = new SharedBudgetIndex();
    index.next(beat(1));
    const first = new RecordingBudget(1, 1);
    const second = new RecordingBudget(1, 1);
    first.onExpire = () => index.add(second);
    index.add(first);
    index.next(beat(2));
    expect(first.events).toEqual(['expired at 2 from 1']);
    expect(second.events).toEqual([]);
    index.next(beat(3));
    expect(second.events).toEqual(['expired at 3 from 1']);
  });

  it('lets an expiring budget remove another that expires on the same beat', () => {
    const index = new SharedBudgetIndex();
    index.next(beat(1));
    const first = new RecordingBudget(1, 1);
    const second = new RecordingBudget(1, 1);
    index.add(first);
    index.add(second);
    index.next(beat(1)); // settles both (a repeated index still counts one)
    first.onExpire = () => index.remove(second);
    index.next(beat(2));
    expect(first.events).toEqual(['expired at 1 from 1']);
    expect(second.events).toEqual(['expired at 1 from 1']);
  });

  it('never expires a removed budget and forgets its bucket', () => {
    const index = new SharedBudgetIndex();
    index.next(beat(1));
    const kept = new RecordingBudget(2, 1);
    const removed = new RecordingBudget(2, 1);
    index.add(kept);
    index.add(removed);
    index.next(beat(2));
    index.remove(removed);
    index.remove(removed);
    expect(index.size).toBe(1);
    index.remove(kept);
    expect(index.size).toBe(0);
    index.next(beat(3));
    expect(kept.events).toEqual([]);
    expect(removed.events).toEqual([]);
    expect((index as unknown as { buckets: Map<number, unknown> }).buckets.size).toBe(0);
  });

  it('tells every pending budget, and any added later, that the source closed', () => {
    const index = new SharedBudgetIndex();
    index.next(beat(1));
    const settled = new RecordingBudget(5, 1);
    index.add(settled);
    index.next(beat(2));
    const arriving = new RecordingBudget(5, undefined);
    index.add(arriving);
    index.complete();
    expect(index.ended).toBe(true);
    expect(settled.events).toEqual(['closed']);
    expect(arriving.events).toEqual(['closed']);
    const late = new RecordingBudget(5, undefined);
    index.add(late);
    expect(late.events).toEqual(['closed']);
    index.next(beat(100));
    expect(index.size).toBe(0);
  });

  it('passes an error of the beat source to every pending budget', () => {
    const index = new SharedBudgetIndex();
    const budget = new RecordingBudget(5, undefined);
    index.add(budget);
    index.error(new Error('beats failed'));
    index.complete();
    expect(budget.events).toEqual(['failed: beats failed']);
  });
});

describe('withinBeats on a shared beat source', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('shares one subscription among many budgets and expires each on its beat', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const beat$ = hot('--a--b--c--d--e', {
        a: beat(1),
        b: beat(2),
        c: beat(3),
        d: beat(4),
        e: beat(5),
      });
      const { index } = shareBeatBudgets(beat$);
      expect(sharedBudgetIndexOf(beat$)).toBe(index);
      const seen: string[] = [];
      for (let budget = 1; budget <= 100; budget++) {
        NEVER.pipe(withinBeats(budget, beat$)).subscribe({
          error: (error: BeatBudgetExceededError) =>
            seen.push(`${error.budget}@${error.expiredAtBeat}/${testScheduler.now()}`),
        });
      }
      expectObservable(NEVER.pipe(withinBeats({ beats: 2, beat$, startBeat: 2 })), '------^').toBe(
        '-----------#',
        undefined,
        new BeatBudgetExceededError({ budget: 2, startBeat: 2, expiredAtBeat: 4 }),
      );
      expectSubscriptions(beat$.subscriptions).toBe('^');
      testScheduler.flush();
      expect(seen).toEqual(['1@1/2', '2@2/5', '3@3/8', '4@4/11', '5@5/14']);
      expect(index.size).toBe(95);
    });
  });

  it('leaves the index when the work completes, errors or is unsubscribed', () => {
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const beat$ = hot('--a--b--c--d', { a: beat(1), b: beat(2), c: beat(3), d: beat(4) });
      const { index } = shareBeatBudgets(beat$);
      expectObservable(cold('--|').pipe(withinBeats(3, beat$))).toBe('--|');
      expectObservable(cold('----#').pipe(withinBeats(3, beat$))).toBe('----#');
      expectObservable(NEVER.pipe(withinBeats(3, beat$)), '^-----!').toBe('');
      const sizes: number[] = [];
      for (const frame of [1, 3, 5, 7]) testScheduler.schedule(() => sizes.push(index.size), frame);
      testScheduler.flush();
      expect(sizes).toEqual([3, 2, 1, 0]);
    });
  });

  it('switches to with(info) at expiry', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const beat$ = hot('  --a--b--c', { a: beat(7), b: beat(8), c: beat(9) });
      shareBeatBudgets(beat$);
      const work$ = cold(' -x-------', { x: 'work' });
      const result = work$.pipe(
        withinBeats({
          beats: 2,
          beat$,
          with: (info) => [`late ${info.startBeat}-${info.expiredAtBeat}`],
        }),
      );
      expectObservable(result).toBe('-x---(l|)', { x: 'work', l: 'late 6-8' });
      expectSubscriptions(work$.subscriptions).toBe('^----!');
    });
  });

  it('errors pending budgets with BeatSourceClosedError when the beats end', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const beat$ = hot('--a--|', { a: beat(1) });
      shareBeatBudgets(beat$);
      expectObservable(NEVER.pipe(withinBeats(3, beat$))).toBe(
        '-----#',
        undefined,
        new BeatSourceClosedError(),
      );
      expectObservable(NEVER.pipe(withinBeats(3, beat$)), '------^').toBe(
        '------#',
        undefined,
        new BeatSourceClosedError(),
      );
    });
  });

  it('uses the index registered for the very Observable passed', () => {
    const beat$ = new Subject<CountedBeat>();
    const index = new SharedBudgetIndex();
    registerSharedBeatSource(beat$, index);
    NEVER.pipe(withinBeats(2, beat$)).subscribe({ error: () => undefined });
    NEVER.pipe(withinBeats(2, beat$.asObservable())).subscribe({ error: () => undefined });
    expect(index.size).toBe(1);
    expect(beat$.observers.length).toBe(1);
  });
});

describe('shared and per-subscription budgets', () => {
  interface Step {
    /** Index step to the next beat (0: a repeated index), or a timeline reset to `resetTo`. */
    gap: number;
    reset: boolean;
    resetTo: number;
    /** Budgets started just before this beat. */
    budgets: Array<{ beats: number; startOffset: number | undefined }>;
  }

  const stepArbitrary: fc.Arbitrary<Step> = fc.record({
    gap: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 4, max: 40 })),
    reset: fc.integer({ min: 0, max: 9 }).map((draw) => draw === 0),
    resetTo: fc.integer({ min: 0, max: 500 }),
    budgets: fc.array(
      fc.record({
        beats: fc.integer({ min: 1, max: 12 }),
        startOffset: fc.option(fc.integer({ min: -3, max: 3 }), { nil: undefined }),
      }),
      { maxLength: 4 },
    ),
  });

  /**
   * Runs the steps on one beat stream; returns how and on which beat each budget ended. A
   * budget with no start of its own counts from the current beat on the shared stream (a
   * client's): the per-subscription run is given that beat as its start.
   */
  function run(steps: readonly Step[], shared: boolean): string[] {
    const beat$ = new Subject<CountedBeat>();
    if (shared) shareBeatBudgets(beat$);
    const outcomes: string[] = [];
    let last = 100;
    let current: number | undefined;
    steps.forEach((step, position) => {
      for (const { beats, startOffset } of step.budgets) {
        const slot = outcomes.push('pending') - 1;
        const startBeat =
          startOffset === undefined ? (shared ? undefined : current) : last + startOffset;
        NEVER.pipe(withinBeats({ beats, beat$, startBeat })).subscribe({
          error: (error: unknown) => {
            outcomes[slot] =
              error instanceof BeatBudgetExceededError
                ? `expired at position ${position}, beat ${error.expiredAtBeat}, from ${error.startBeat}`
                : (error as Error).name;
          },
        });
      }
      last = step.reset ? step.resetTo : last + step.gap;
      current = last;
      beat$.next(beat(last, step.reset));
    });
    beat$.complete();
    return outcomes;
  }

  it('expire at the same beat, for any beats and budgets', () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { minLength: 1, maxLength: 30 }), (steps) => {
        const outcomes = run(steps, true);
        expect(outcomes).toEqual(run(steps, false));
        expect(outcomes).not.toContain('pending');
      }),
      { numRuns: 300 },
    );
  });
});
