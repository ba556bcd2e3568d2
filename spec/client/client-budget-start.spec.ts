/**
 * Budgets on a client's beat$ and downbeat$ count from the current beat (issue 14, item 4;
 * docs/protocol.md section 9), across gaps, on the test kit's virtual time. On a stream that is
 * not a client's, the first delivered beat still counts as the first elapsed one.
 */
import { NEVER, Subject } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { createTestClient, type TestClient } from '../../lib/testing';
import type { CountedBeat } from '../../lib/beats/budget-index';
import { BeatBudgetExceededError, type BeatBudgetInfo } from '../../lib/errors';
import { withinBeats } from '../../lib/operators/within-beats';
import { at, testScheduler } from '../beats/frames';

/** Where a budget ended: its info and the virtual time, or null while pending. */
interface Ended {
  info: BeatBudgetInfo | null;
  atMs: number;
}

function watch(
  scheduler: TestScheduler,
  budget$: ReturnType<typeof NEVER.pipe>,
): { ended: Ended | null } {
  const state: { ended: Ended | null } = { ended: null };
  budget$.subscribe({
    error: (error: unknown) => {
      state.ended = {
        info: error instanceof BeatBudgetExceededError ? error.info : null,
        atMs: scheduler.now(),
      };
    },
  });
  return state;
}

describe('budgets on a client’s streams count from the current beat', () => {
  let scheduler: TestScheduler;
  let test: TestClient | undefined;

  beforeEach(() => {
    scheduler = testScheduler();
  });
  afterEach(async () => {
    await test?.stop({ timeoutMs: 0 });
    test = undefined;
  });

  it('withinBeats(3, client.beat$) started at beat 5, next beat 9: expires at 9 from 5', () => {
    let budget: { ended: Ended | null } | undefined;
    scheduler.run(() => {
      test = createTestClient({}, { scheduler });
      const { client } = test;
      const pulse = test.pulse({ tempoBpm: 120 });
      void client.start();
      at(scheduler, 0, () => pulse.jumpTo(5).beat());
      at(scheduler, 10, () => {
        budget = watch(scheduler, NEVER.pipe(withinBeats(3, client.beat$)));
      });
      at(scheduler, 500, () => pulse.jumpTo(9).beat()); // a gap: 6, 7 and 8 never came
      at(scheduler, 550, () => void test?.stop({ timeoutMs: 0 }));
    });
    expect(budget?.ended).toEqual({
      info: { budget: 3, startBeat: 5, expiredAtBeat: 9 },
      atMs: 500,
    });
  });

  it('withinBeats(8, client.downbeat$) started on a downbeat expires on the downbeat 8 beats on, not a bar later', () => {
    let budget: { ended: Ended | null } | undefined;
    scheduler.run(() => {
      test = createTestClient({}, { scheduler });
      const { client } = test;
      const pulse = test.pulse({ tempoBpm: 120 });
      void client.start();
      at(scheduler, 0, () => pulse.jumpTo(4).beat());
      at(scheduler, 10, () => {
        budget = watch(scheduler, NEVER.pipe(withinBeats(8, client.downbeat$)));
      });
      // Beats 5 … 16, one every 500 ms: downbeats at 8, 12 and 16.
      at(scheduler, 500, () => void pulse.play(12));
      at(scheduler, 6500, () => void test?.stop({ timeoutMs: 0 }));
    });
    expect(budget?.ended?.info).toEqual({ budget: 8, startBeat: 4, expiredAtBeat: 12 });
  });

  it('withinBeats(8, client.downbeat$) counts the beats of a gap, and every beat the client delivers', () => {
    let gap: { ended: Ended | null } | undefined;
    scheduler.run(() => {
      test = createTestClient({}, { scheduler });
      const { client } = test;
      const pulse = test.pulse({ tempoBpm: 120 });
      void client.start();
      at(scheduler, 0, () => pulse.jumpTo(5).beat());
      at(scheduler, 10, () => {
        gap = watch(scheduler, NEVER.pipe(withinBeats(8, client.downbeat$)));
      });
      at(scheduler, 500, () => pulse.jumpTo(6).beat());
      // Beat 13 opens its bar: the first delivered beat of its window, a downbeat.
      at(scheduler, 1000, () => pulse.jumpTo(13).beat());
      at(scheduler, 1100, () => void test?.stop({ timeoutMs: 0 }));
    });
    expect(gap?.ended).toEqual({
      info: { budget: 8, startBeat: 5, expiredAtBeat: 13 },
      atMs: 1000,
    });
  });

  it('client.withinBeats and withinBeats on client.beat$ agree', () => {
    const ends: Array<Ended | null> = [];
    scheduler.run(() => {
      test = createTestClient({}, { scheduler });
      const { client } = test;
      const pulse = test.pulse({ tempoBpm: 120 });
      void client.start();
      at(scheduler, 0, () => pulse.jumpTo(20).beat());
      const watched: Array<{ ended: Ended | null }> = [];
      at(scheduler, 10, () => {
        watched.push(watch(scheduler, NEVER.pipe(client.withinBeats(2))));
        watched.push(watch(scheduler, NEVER.pipe(withinBeats(2, client.beat$))));
      });
      at(scheduler, 500, () => pulse.jumpTo(30).beat());
      at(scheduler, 600, () => {
        ends.push(...watched.map((w) => w.ended));
        void test?.stop({ timeoutMs: 0 });
      });
    });
    expect(ends).toEqual([
      { info: { budget: 2, startBeat: 20, expiredAtBeat: 30 }, atMs: 500 },
      { info: { budget: 2, startBeat: 20, expiredAtBeat: 30 }, atMs: 500 },
    ]);
  });

  it('on a stream that is not a client’s, the first delivered beat counts as the first elapsed one', () => {
    const beats = new Subject<CountedBeat>();
    beats.next({ beat_index: 5, timelineReset: false }); // before the budget: unseen
    let ended: BeatBudgetInfo | null = null;
    NEVER.pipe(withinBeats(3, beats)).subscribe({
      error: (error: unknown) => {
        ended = (error as BeatBudgetExceededError).info;
      },
    });
    beats.next({ beat_index: 9, timelineReset: false });
    expect(ended).toBeNull(); // one beat elapsed: the first delivered
    beats.next({ beat_index: 12, timelineReset: false }); // 1 + 3 by index, across the gap
    expect(ended).toEqual({ budget: 3, startBeat: 8, expiredAtBeat: 12 });
  });
});
