/**
 * The two Jest examples of the README's "Testing your service" section, verbatim (bar the
 * describe blocks), so that the documentation keeps working.
 */
import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { createTestClient } from '@chorus-services/backbeat/testing';
import { BeatBudgetExceededError } from '@chorus-services/backbeat';

describe('README: on a TestScheduler', () => {
  it('keeps time through a silence of the pulse', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    scheduler.run(({ expectObservable }) => {
      const test = createTestClient({ jitterToleranceMs: 100 }, { scheduler });
      const beats = test.client.beat$.pipe(map((beat) => `${beat.source}:${beat.beat_index}`));
      // Pulse beats at 0 and 500 ms; silence; synthetic beats from 500 + 500 + 100 ms on;
      // stop() at 1600 ms completes beat$.
      expectObservable(beats).toBe('a 499ms b 599ms c 399ms d 99ms |', {
        a: 'pulse:0',
        b: 'pulse:1',
        c: 'synthetic:2',
        d: 'synthetic:3',
      });
      void test.client.start();
      test.pulse({ tempoBpm: 120 }).play(2);
      scheduler.schedule(() => void test.stop(), 1600); // ends the run: no timer left
    });
  });
});

describe('README: on jest fake timers', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('gives up after 4 beats and says so', async () => {
    await using test = createTestClient();
    await test.client.start();
    test.pulse({ tempoBpm: 120 }).play(Infinity);

    const work = test.client.withBeatBudget(
      4,
      (signal) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason as Error));
        }),
    );
    const outcome = work.catch((error: unknown) => error);
    await jest.advanceTimersByTimeAsync(2000);
    expect(await outcome).toBeInstanceOf(BeatBudgetExceededError);

    await test.client.emitStatusClaim({ state: 'failed', beatsLeft: 0, progress: 0.5 });
    expect(test.claims.map((recorded) => recorded.claim.state)).toEqual(['failed']);
  });
});
