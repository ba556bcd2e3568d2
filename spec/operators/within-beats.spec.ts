import { NEVER, of, Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { Beat } from '../../lib/beats/beat';
import {
  BeatBudgetExceededError,
  BeatSourceClosedError,
  type BeatBudgetInfo,
} from '../../lib/errors';
import { withinBeats } from '../../lib/operators/within-beats';

/** A delivered beat at `index` (what budgets read of it is the index and the reset flag). */
function beat(index: number, extra: { timelineReset?: boolean; tempoBpm?: number } = {}): Beat {
  return Object.freeze({
    type: 'backbeat.beatframe.v1',
    cluster_id: 'test',
    pulse_id: 'pulse',
    beat_index: index,
    downbeat: index % 4 === 0,
    phase: 'work',
    hlc: '000000000001:0000:pulse',
    deadline_at: '2025-01-01T00:00:00.000Z',
    tempo_bpm: extra.tempoBpm ?? 120,
    window_id: `w${Math.floor(index / 4)}`,
    beats_per_bar: 4,
    source: 'pulse',
    receivedAtMs: 0,
    missedBefore: 0,
    timelineReset: extra.timelineReset ?? false,
  } as const);
}

/** Errors compared by class, message and budget info (jest's toEqual ignores the class). */
function comparable(value: unknown): unknown {
  if (value instanceof Error) {
    const info = (value as Partial<BeatBudgetExceededError>).info;
    return { errorClass: value.constructor.name, message: value.message, info };
  }
  if (Array.isArray(value)) return value.map(comparable);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, comparable(item)]));
  }
  return value;
}

function exceeded(info: BeatBudgetInfo): BeatBudgetExceededError {
  return new BeatBudgetExceededError(info);
}

describe('withinBeats', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => {
      expect(comparable(actual)).toEqual(comparable(expected));
    });
  });

  it('mirrors the source and errors on the beat at which the budget expires', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const beat$ = hot('  --a--b--c--d', { a: beat(5), b: beat(6), c: beat(7), d: beat(8) });
      const work$ = cold(' -x---y---z--', { x: 1, y: 2, z: 3 });
      const expected = '   -x---y--#';
      const subs = '       ^-------!';
      expectObservable(work$.pipe(withinBeats(3, beat$))).toBe(
        expected,
        { x: 1, y: 2 },
        exceeded({ budget: 3, startBeat: 4, expiredAtBeat: 7 }),
      );
      expectSubscriptions(work$.subscriptions).toBe(subs);
      expectSubscriptions(beat$.subscriptions).toBe(subs);
    });
  });

  it('gives the info as properties of the error', () => {
    const beat$ = new Subject<Beat>();
    let caught: unknown;
    NEVER.pipe(withinBeats(2, beat$)).subscribe({
      error: (error: unknown) => {
        caught = error;
      },
    });
    beat$.next(beat(10));
    beat$.next(beat(11));
    expect(caught).toBeInstanceOf(BeatBudgetExceededError);
    expect(caught).toMatchObject({
      code: 'BACKBEAT_BEAT_BUDGET_EXCEEDED',
      budget: 2,
      startBeat: 9,
      expiredAtBeat: 11,
      info: { budget: 2, startBeat: 9, expiredAtBeat: 11 },
    });
  });

  it('completes with the source and releases the beat subscription', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const beat$ = hot('  --a--b--c--d', { a: beat(1), b: beat(2), c: beat(3), d: beat(4) });
      const work$ = cold(' -x---|');
      expectObservable(work$.pipe(withinBeats(3, beat$))).toBe('-x---|');
      expectSubscriptions(beat$.subscriptions).toBe('^----!');
    });
  });

  it('passes the source error through and releases the beat subscription', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const beat$ = hot('  --a--b--c--d', { a: beat(1), b: beat(2), c: beat(3), d: beat(4) });
      const work$ = cold(' -x--#', undefined, new Error('work failed'));
      expectObservable(work$.pipe(withinBeats(3, beat$))).toBe(
        '-x--#',
        undefined,
        new Error('work failed'),
      );
      expectSubscriptions(beat$.subscriptions).toBe('^---!');
    });
  });

  it('counts the beats a gap in the indexes skipped', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const beat$ = hot('--a--b--c', { a: beat(10), b: beat(13), c: beat(14) });
      expectObservable(NEVER.pipe(withinBeats(4, beat$))).toBe(
        '-----#',
        undefined,
        exceeded({ budget: 4, startBeat: 9, expiredAtBeat: 13 }),
      );
    });
  });

  it('counts a timeline reset as one beat, whatever its index', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const beat$ = hot('--a--b--c--d--e', {
        a: beat(0),
        b: beat(1),
        c: beat(500, { timelineReset: true }),
        d: beat(501),
        e: beat(502),
      });
      expectObservable(NEVER.pipe(withinBeats(4, beat$))).toBe(
        '-----------#',
        undefined,
        exceeded({ budget: 4, startBeat: -1, expiredAtBeat: 501 }),
      );
    });
  });

  it('counts from startBeat when given', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const beat$ = hot('--a--b--c--d', { a: beat(11), b: beat(12), c: beat(13), d: beat(14) });
      expectObservable(NEVER.pipe(withinBeats({ beats: 3, beat$, startBeat: 10 }))).toBe(
        '--------#',
        undefined,
        exceeded({ budget: 3, startBeat: 10, expiredAtBeat: 13 }),
      );
    });
  });

  it('counts the beats since startBeat on the first beat seen', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const beat$ = hot('--a--b', { a: beat(14), b: beat(15) });
      expectObservable(NEVER.pipe(withinBeats({ beats: 3, beat$, startBeat: 10 }))).toBe(
        '--#',
        undefined,
        exceeded({ budget: 3, startBeat: 10, expiredAtBeat: 14 }),
      );
    });
  });

  it('counts a reset as one beat even as the first beat after startBeat', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const beat$ = hot('--a--b--c', {
        a: beat(90, { timelineReset: true }),
        b: beat(91),
        c: beat(92),
      });
      expectObservable(NEVER.pipe(withinBeats({ beats: 2, beat$, startBeat: 10 }))).toBe(
        '-----#',
        undefined,
        exceeded({ budget: 2, startBeat: 10, expiredAtBeat: 91 }),
      );
    });
  });

  it('without startBeat counts the first delivered beat as the first elapsed one', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const beat$ = hot('--a--b--c', { a: beat(40), b: beat(41), c: beat(42) });
      expectObservable(NEVER.pipe(withinBeats(1, beat$))).toBe(
        '--#',
        undefined,
        exceeded({ budget: 1, startBeat: 39, expiredAtBeat: 40 }),
      );
    });
  });

  it('counts beats, not milliseconds: tempo and spacing do not matter', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const beat$ = hot('-a 999ms b 9ms c 4999ms d', {
        a: beat(1, { tempoBpm: 60 }),
        b: beat(2, { tempoBpm: 6000 }),
        c: beat(3, { tempoBpm: 1 }),
        d: beat(4, { tempoBpm: 60 }),
      });
      expectObservable(NEVER.pipe(withinBeats(3, beat$))).toBe(
        '- 1000ms - 9ms #',
        undefined,
        exceeded({ budget: 3, startBeat: 0, expiredAtBeat: 3 }),
      );
    });
  });

  it('counts eight beats on downbeat$, at downbeat granularity', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      // Started on downbeat 4 (the current beat); downbeats every bar of four beats.
      const downbeat$ = hot('--a--b--c--d', { a: beat(8), b: beat(12), c: beat(16), d: beat(20) });
      expectObservable(NEVER.pipe(withinBeats({ beats: 8, beat$: downbeat$, startBeat: 4 }))).toBe(
        '-----#',
        undefined,
        exceeded({ budget: 8, startBeat: 4, expiredAtBeat: 12 }),
      );
      // Without startBeat the first downbeat counts one: 1, 5, 9 ≥ 8.
      expectObservable(NEVER.pipe(withinBeats(8, downbeat$))).toBe(
        '--------#',
        undefined,
        exceeded({ budget: 8, startBeat: 7, expiredAtBeat: 16 }),
      );
    });
  });

  it('switches to with(info) at expiry, releasing the source and the beats', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const beat$ = hot('  --a--b--c--d', { a: beat(1), b: beat(2), c: beat(3), d: beat(4) });
      const work$ = cold(' -x-----------', { x: 'work' });
      const late$ = cold('         -l|', { l: 'late' });
      const infos: BeatBudgetInfo[] = [];
      const result = work$.pipe(
        withinBeats({
          beats: 2,
          beat$,
          with: (info) => {
            infos.push(info);
            return late$;
          },
        }),
      );
      expectObservable(result).toBe('-x----l|', { x: 'work', l: 'late' });
      expectSubscriptions(work$.subscriptions).toBe('^----!');
      expectSubscriptions(beat$.subscriptions).toBe('^----!');
      expectSubscriptions(late$.subscriptions).toBe('-----^-!');
      testScheduler.flush();
      expect(infos).toEqual([{ budget: 2, startBeat: 0, expiredAtBeat: 2 }]);
    });
  });

  it('errors with what a throwing with factory throws', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const beat$ = hot('--a', { a: beat(1) });
      const failure = new Error('no fallback');
      const result = NEVER.pipe(
        withinBeats({
          beats: 1,
          beat$,
          with: () => {
            throw failure;
          },
        }),
      );
      expectObservable(result).toBe('--#', undefined, failure);
    });
  });

  it('releases the source and the beat subscription on unsubscription', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const beat$ = hot('  --a--b--c--d', { a: beat(1), b: beat(2), c: beat(3), d: beat(4) });
      const work$ = cold(' -x-----------', { x: 1 });
      expectObservable(work$.pipe(withinBeats(3, beat$)), '^---!').toBe('-x--', { x: 1 });
      expectSubscriptions(work$.subscriptions).toBe('^---!');
      expectSubscriptions(beat$.subscriptions).toBe('^---!');
    });
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'errors with a RangeError on subscription for a budget of %p',
    (budget) => {
      testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
        const beat$ = hot('--a', { a: beat(1) });
        const work$ = cold('-x', { x: 1 });
        expectObservable(work$.pipe(withinBeats(budget, beat$))).toBe(
          '#',
          undefined,
          new RangeError(`withinBeats: beats must be a positive integer, got ${budget}`),
        );
        expectSubscriptions(work$.subscriptions).toBe([]);
        expectSubscriptions(beat$.subscriptions).toBe([]);
      });
    },
  );

  it('errors with a RangeError for a startBeat that is not an integer', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const beat$ = hot('--a', { a: beat(1) });
      expectObservable(NEVER.pipe(withinBeats({ beats: 2, beat$, startBeat: 0.5 }))).toBe(
        '#',
        undefined,
        new RangeError('withinBeats: startBeat must be an integer, got 0.5'),
      );
    });
  });

  it('errors with a TypeError when beat$ is not an Observable, without subscribing the source', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const work$ = cold('-x', { x: 1 });
      const notBeats = undefined as unknown as Subject<Beat>;
      expectObservable(work$.pipe(withinBeats(2, notBeats))).toBe(
        '#',
        undefined,
        new TypeError('withinBeats: beat$ must be an Observable of beats'),
      );
      expectSubscriptions(work$.subscriptions).toBe([]);
    });
  });

  it('errors with BeatSourceClosedError when the beats end first, releasing the source', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const beat$ = hot('  --a--|', { a: beat(1) });
      const work$ = cold(' -x-------', { x: 1 });
      expectObservable(work$.pipe(withinBeats(3, beat$))).toBe(
        '-x---#',
        { x: 1 },
        new BeatSourceClosedError(),
      );
      expectSubscriptions(work$.subscriptions).toBe('^----!');
    });
  });

  it('passes an error of the beat source through, releasing the source', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const failure = new Error('beats failed');
      const beat$ = hot('  --a--#', { a: beat(1) }, failure);
      const work$ = cold(' -x-------', { x: 1 });
      expectObservable(work$.pipe(withinBeats(3, beat$))).toBe('-x---#', { x: 1 }, failure);
      expectSubscriptions(work$.subscriptions).toBe('^----!');
    });
  });

  it('does not subscribe to the beats when the source completes at once', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const beat$ = hot('--a', { a: beat(1) });
      expectObservable(of(1, 2).pipe(withinBeats(3, beat$))).toBe('(xy|)', { x: 1, y: 2 });
      expectSubscriptions(beat$.subscriptions).toBe([]);
    });
  });

  it('stops at expiry on a synchronous beat source', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const beat$ = of(beat(1), beat(2), beat(3), beat(4));
      const late$ = cold('-l|', { l: 'late' });
      const result = NEVER.pipe(withinBeats({ beats: 2, beat$, with: () => late$ }));
      // The beat source then completes, but the budget has already switched.
      expectObservable(result).toBe('-l|', { l: 'late' });
    });
  });

  it('runs each subscription on its own budget', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const beat$ = hot('--a--b--c--d', { a: beat(1), b: beat(2), c: beat(3), d: beat(4) });
      const budgeted$ = NEVER.pipe(withinBeats(2, beat$));
      expectObservable(budgeted$).toBe(
        '-----#',
        undefined,
        exceeded({ budget: 2, startBeat: 0, expiredAtBeat: 2 }),
      );
      expectObservable(budgeted$, '---^').toBe(
        '--------#',
        undefined,
        exceeded({ budget: 2, startBeat: 1, expiredAtBeat: 3 }),
      );
    });
  });
});
