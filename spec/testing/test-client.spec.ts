/**
 * The test kit on a TestScheduler: a real client follows a scripted pulse in virtual ms, inside
 * `testScheduler.run`, and every timer ends with `test.stop()`.
 */
import { catchError, firstValueFrom, from, map, NEVER, of, toArray } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import {
  createTestClient,
  TEST_EPOCH_MS,
  type TestClient,
} from '@chorus-services/backbeat/testing';
import {
  BeatBudgetExceededError,
  ConfigError,
  ConnectionError,
  generateSigningKey,
  verifyStatus,
  type Beat,
  type HealthStatus,
} from '@chorus-services/backbeat';
import { hlcPhysicalMs } from '../../lib/clock/hlc';
import { at, label, marbles, testScheduler } from '../beats/frames';

type Helpers = Parameters<Parameters<TestScheduler['run']>[0]>[0];

/**
 * Expects `beat$` as labels (`p3`, `s4`, `p0!`) at exactly these virtual times, completing at
 * `stoppedAt` (`stop()` ends the beat streams at once).
 */
function expectBeats(
  helpers: Helpers,
  test: TestClient,
  events: ReadonlyArray<readonly [number, string]>,
  stoppedAt: number,
): void {
  const { diagram, values } = marbles(events, stoppedAt);
  helpers.expectObservable(test.client.beat$.pipe(map(label))).toBe(diagram, values);
}

/** A short label of a health value: connected, degraded, tempo, e.g. `c-120`, `cd120`. */
function healthLabel(health: HealthStatus): string {
  return `${health.connected ? 'c' : '-'}${health.localDegradation ? 'd' : '-'}${health.tempoBpm}`;
}

describe('createTestClient on a TestScheduler', () => {
  let scheduler: TestScheduler;
  let test: TestClient | undefined;

  beforeEach(() => {
    scheduler = testScheduler();
  });

  afterEach(async () => {
    await test?.stop({ timeoutMs: 0 });
    test = undefined;
  });

  it('follows the beats a scripted pulse plays, at their virtual times', () => {
    const beats: Beat[] = [];
    scheduler.run((helpers) => {
      test = createTestClient({}, { scheduler });
      expectBeats(
        helpers,
        test,
        [
          [0, 'p0'],
          [500, 'p1'],
          [1000, 'p2'],
        ],
        1100,
      );
      test.client.onBeat((beat) => beats.push(beat));
      void test.client.start();
      test.pulse().play(3);
      at(scheduler, 1100, () => void test?.stop());
    });
    expect(beats.map((beat) => [beat.pulse_id, beat.tempo_bpm, beat.phase])).toEqual([
      ['test-pulse-1', 120, 'plan'],
      ['test-pulse-1', 120, 'work'],
      ['test-pulse-1', 120, 'work'],
    ]);
    // The wall clock is the fixed epoch plus virtual time.
    expect(beats.map((beat) => beat.receivedAtMs - TEST_EPOCH_MS)).toEqual([0, 500, 1000]);
    expect(test?.client.getCurrentBeat()).toBe(2);
  });

  it.each([100, 250])(
    'degrades exactly one period plus the tolerance (%i ms) after the last beat',
    (toleranceMs) => {
      scheduler.run((helpers) => {
        test = createTestClient({ jitterToleranceMs: toleranceMs }, { scheduler });
        const degradeAt = 1000 + 500 + toleranceMs;
        expectBeats(
          helpers,
          test,
          [
            [0, 'p0'],
            [500, 'p1'],
            [1000, 'p2'],
            [degradeAt, 's3'],
            [2000, 's4'],
            [2500, 's5'],
          ],
          2600,
        );
        void test.client.start();
        test.pulse({ tempoBpm: 120 }).play(3);
        at(scheduler, 2600, () => void test?.stop());
      });
    },
  );

  it('recovers on the first frame after a silence, and reports both on health$', () => {
    scheduler.run((helpers) => {
      test = createTestClient({}, { scheduler });
      const pulse = test.pulse();
      expectBeats(
        helpers,
        test,
        [
          [0, 'p0'],
          [500, 'p1'],
          [1000, 'p2'],
          [1600, 's3'],
          [2000, 's4'],
          [2250, 'p5'],
        ],
        2300,
      );
      helpers
        .expectObservable(test.client.health$.pipe(map(healthLabel)))
        .toBe('(ab) 1596ms c 649ms d', { a: 'c-60', b: 'c-120', c: 'cd120', d: 'c-120' });
      void test.client.start();
      pulse.play(3);
      // The pulse kept counting through the silence, as a partition would leave it.
      at(scheduler, 2250, () => pulse.jumpTo(5).beat());
      at(scheduler, 2300, () => void test?.stop());
    });
  });

  it('loses the frames of a silence() while play() keeps its schedule', () => {
    scheduler.run((helpers) => {
      test = createTestClient({}, { scheduler });
      const pulse = test.pulse();
      expectBeats(
        helpers,
        test,
        [
          [0, 'p0'],
          [500, 'p1'],
          [1000, 'p2'],
          [1600, 's3'],
          [2000, 's4'],
          [2500, 'p5'],
          [3000, 'p6'],
        ],
        3100,
      );
      void test.client.start();
      pulse.play(7);
      at(scheduler, 1001, () => pulse.silence(1100)); // the frames at 1500 and 2000 are lost
      at(scheduler, 3100, () => void test?.stop());
    });
    const frames = test?.connection.published.filter((m) => m.subject.endsWith('.beat'));
    expect(
      frames?.map((m) => (JSON.parse(new TextDecoder().decode(m.data)) as Beat).beat_index),
    ).toEqual([0, 1, 2, 5, 6]);
  });

  it('flags a jump back of more than a bar as a timeline reset, and ignores a smaller one', () => {
    scheduler.run((helpers) => {
      test = createTestClient({}, { scheduler });
      const pulse = test.pulse();
      expectBeats(
        helpers,
        test,
        [
          [0, 'p0'],
          [500, 'p1'],
          [1000, 'p2'],
          [1500, 'p3'],
          [2000, 'p4'],
          [2500, 'p5'],
          [2750, 'p0!'],
        ],
        2800,
      );
      helpers
        .expectObservable(test.client.downbeat$.pipe(map(label)))
        .toBe('a 1999ms b 749ms c 49ms |', { a: 'p0', b: 'p4', c: 'p0!' });
      void test.client.start();
      pulse.play(6);
      at(scheduler, 2600, () => pulse.jumpTo(2).beat()); // behind, within a bar: not delivered
      at(scheduler, 2750, () => pulse.jumpTo(0).beat()); // a restarted pulse
      at(scheduler, 2800, () => void test?.stop());
    });
    expect(test?.client.metrics().beats.timelineResets).toBe(1);
    expect(test?.client.metrics().beats.behind).toBe(1);
  });

  it('follows a tempo change: the next beat when promised, then the new period and degradation', () => {
    scheduler.run((helpers) => {
      test = createTestClient({}, { scheduler });
      const pulse = test.pulse({ tempoBpm: 120 });
      const { diagram, values } = marbles(
        [
          [0, '0@120'],
          [500, '1@120'],
          [1000, '2@120'],
          [1500, '3@60'],
          [2500, '4@60'],
          [3600, '5@60'],
          [4500, '6@60'],
        ],
        4600,
      );
      helpers
        .expectObservable(
          test.client.beat$.pipe(map((beat) => `${beat.beat_index}@${beat.tempo_bpm}`)),
        )
        .toBe(diagram, values);
      helpers
        .expectObservable(test.client.health$.pipe(map(healthLabel)))
        .toBe('(ab) 1496ms c 2099ms d', { a: 'c-60', b: 'c-120', c: 'c-60', d: 'cd60' });
      void test.client.start();
      pulse.play(5);
      at(scheduler, 1200, () => pulse.setTempo(60));
      at(scheduler, 4600, () => void test?.stop());
    });
  });

  it('expires withinBeats budgets on virtual beats, pulse or synthetic', () => {
    scheduler.run((helpers) => {
      test = createTestClient({}, { scheduler });
      const client = test.client;
      const budget = (beats: number) =>
        NEVER.pipe(
          client.withinBeats(beats),
          catchError((error: unknown) =>
            of(
              error instanceof BeatBudgetExceededError ? `expired@${error.expiredAtBeat}` : 'other',
            ),
          ),
        );
      // Subscribed at 700 ms, on beat 1: three beats later is beat 4 (p2, s3, s4), at 2000 ms.
      helpers.expectObservable(budget(3), '700ms ^').toBe('2000ms (a|)', { a: 'expired@4' });
      // Subscribed before any beat: the first beat is the first elapsed one.
      helpers.expectObservable(budget(1), '^').toBe('(a|)', { a: 'expired@0' });
      // Subscribed at 100 ms, on beat 0: one beat later is p1.
      helpers.expectObservable(budget(1), '100ms ^').toBe('500ms (a|)', { a: 'expired@1' });
      void client.start();
      test.pulse().play(3);
      at(scheduler, 2100, () => void test?.stop());
    });
  });

  it('aborts withBeatBudget work at the virtual beat its budget ends', async () => {
    let work: Promise<unknown> | undefined;
    const aborted: unknown[] = [];
    scheduler.run(() => {
      test = createTestClient({}, { scheduler });
      const client = test.client;
      void client.start();
      test.pulse().play(3);
      at(scheduler, 700, () => {
        work = client.withBeatBudget(
          2,
          (signal) =>
            new Promise((_resolve, reject) =>
              signal.addEventListener('abort', () => {
                aborted.push(signal.reason);
                reject(signal.reason as Error);
              }),
            ),
        );
      });
      at(scheduler, 2100, () => void test?.stop());
    });
    await expect(work).rejects.toMatchObject({
      name: 'BeatBudgetExceededError',
      startBeat: 1,
      expiredAtBeat: 3, // the first synthetic beat, at 1600 virtual ms
    });
    expect(aborted).toHaveLength(1);
    expect(aborted[0]).toBeInstanceOf(BeatBudgetExceededError);
  });

  it('records signed claims with their headers; observers accept them on the virtual clock', async () => {
    const key = generateSigningKey();
    test = createTestClient({ signingKey: key.secretKey }, { scheduler });
    const verdicts = firstValueFrom(
      test.client
        .statusClaims$({ trustedKeys: { 'test-agent': key.publicKey }, physicalNow: test.wallNow })
        .pipe(
          map((verdict) => verdict.ok),
          toArray(),
        ),
    );
    await test.client.start();
    test.pulse().beats(3);
    const sent = await test.client.emitStatusClaim({
      state: 'executing',
      beatsLeft: 4,
      progress: 0.25,
      notes: 'half way',
    });

    expect(test.claims).toHaveLength(1);
    const [recorded] = test.claims;
    expect(recorded.claim).toEqual(sent);
    expect(recorded.claim).toMatchObject({ agent_id: 'test-agent', beat_index: 2 });
    expect(recorded.subject).toBe('backbeat.test-cluster.status.test-agent');
    expect(Object.keys(recorded.headers).sort()).toEqual(
      ['Nats-Msg-Id', 'x-agent-id', 'x-hlc', 'x-public-key', 'x-signature', 'x-window-id'].sort(),
    );
    expect(recorded.headers['x-window-id']).toBe(sent.window_id);
    expect(recorded.headers['x-hlc']).toBe(sent.hlc);
    expect(hlcPhysicalMs(sent.hlc)).toBe(TEST_EPOCH_MS); // virtual time 0

    const judge = (trusted: Uint8Array) =>
      firstValueFrom(
        from(test!.claims).pipe(
          verifyStatus({ trustedKeys: { 'test-agent': trusted }, physicalNow: test!.wallNow }),
        ),
      );
    expect(await judge(key.publicKey)).toMatchObject({ ok: true, claim: sent });
    expect(await judge(generateSigningKey().publicKey)).toMatchObject({ ok: false });

    // The client's own observer, on the same virtual wall clock; it completes at stop().
    await test.stop({ timeoutMs: 0 });
    expect(await verdicts).toEqual([true]);
  });

  it('refuses JetStream status delivery with a clear error', async () => {
    test = createTestClient({ statusDelivery: 'jetstream' }, { scheduler });
    const started = test.client.start();
    await expect(started).rejects.toBeInstanceOf(ConnectionError);
    await expect(started).rejects.toThrow(/test connection has no JetStream/);
  });

  it('refuses a connection that is not a test connection, and bad runtimes', () => {
    expect(() => createTestClient({ connection: {} as never }, { scheduler })).toThrow(ConfigError);
    expect(() => createTestClient({}, { scheduler: {} as never })).toThrow(
      expect.objectContaining({ field: 'scheduler' }) as Error,
    );
    expect(() => createTestClient({}, { scheduler, maxVirtualMs: 0 })).toThrow(
      expect.objectContaining({ field: 'maxVirtualMs' }) as Error,
    );
    // The separate monotonic clock it once took: the scheduler tells the time now.
    expect(() => createTestClient({}, { scheduler, now: () => 0 } as never)).toThrow(
      expect.objectContaining({ field: 'now' }) as Error,
    );
    expect(() => createTestClient({ clusterId: 'a.b' }, { scheduler })).toThrow(
      expect.objectContaining({ field: 'clusterId' }) as Error,
    );
  });

  it('stops cleanly: no virtual timer left, streams complete, connection closed', async () => {
    const ended: string[] = [];
    let stopped: Promise<{ dropped: number }> | undefined;
    scheduler.run(() => {
      test = createTestClient({}, { scheduler });
      test.client.beat$.subscribe({ complete: () => ended.push('beat$') });
      test.client.health$.subscribe({ complete: () => ended.push('health$') });
      void test.client.start();
      test.pulse().play(Infinity);
      test.pulse().play(Infinity); // a second pulse, refused as another pulse, still timed
      at(scheduler, 5000, () => {
        stopped = test?.stop();
      });
    });
    // The run ended: nothing was left to flush, although both pulses were set to play for ever.
    expect(scheduler.actions).toHaveLength(0);
    expect(scheduler.now()).toBe(5000);
    await expect(stopped).resolves.toEqual({ dropped: 0 });
    expect(ended.sort()).toEqual(['beat$', 'health$']);
    expect(test?.connection.isClosed()).toBe(true);
    expect(test?.connection.subscriptionCount).toBe(0);
    expect(test?.client.getCurrentBeat()).toBe(9);
  });

  it('fails a run whose client was never stopped, instead of running for ever', () => {
    expect(() =>
      scheduler.run(() => {
        test = createTestClient({}, { scheduler, maxVirtualMs: 60_000 });
        void test.client.start();
      }),
    ).toThrow(/test client still running after 6\d{4} virtual ms/);
    expect(scheduler.actions).toHaveLength(0);
  });
});
