/**
 * The test kit on jest's fake timers: no scheduler given, the client keeps the real clocks and
 * jest moves them; promises (start, claims, budgets, status events) settle between advances.
 */
import { filter, firstValueFrom } from 'rxjs';
import { createTestClient, type TestClient } from '@chorus-services/backbeat/testing';
import { BeatBudgetExceededError, type HealthStatus } from '@chorus-services/backbeat';
import { hlcPhysicalMs } from '../../lib/clock/hlc';
import { label } from '../beats/frames';

describe('createTestClient on jest fake timers', () => {
  let test: TestClient | undefined;

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_800_000_000_000 });
  });

  afterEach(async () => {
    await test?.stop({ timeoutMs: 0 });
    test = undefined;
    jest.useRealTimers();
  });

  it('follows, degrades, recovers, budgets, claims and reconnects on fake time', async () => {
    test = createTestClient({ jitterToleranceMs: 100 });
    const { client, connection } = test;
    const startedAt = Date.now();
    const seen: string[] = [];
    client.onBeat((beat) => seen.push(`${Date.now() - startedAt} ${label(beat)}`));
    const health: HealthStatus[] = [];
    client.health$.subscribe((value) => health.push(value));

    await client.start();
    const pulse = test.pulse({ tempoBpm: 120 });
    pulse.play(3);
    await jest.advanceTimersByTimeAsync(2100);
    expect(seen).toEqual(['0 p0', '500 p1', '1000 p2', '1600 s3', '2000 s4']);
    expect(client.health()).toMatchObject({ connected: true, localDegradation: true });

    // A budget of two beats, from beat 4: the pulse comes back at beat 5, expires it at 6.
    const aborted: unknown[] = [];
    const budget = client.withBeatBudget(
      2,
      (signal) =>
        new Promise((_resolve, reject) =>
          signal.addEventListener('abort', () => {
            aborted.push(signal.reason);
            reject(signal.reason as Error);
          }),
        ),
    );
    const settled = budget.then(
      () => 'met',
      (error: unknown) => error,
    );
    const played = pulse.jumpTo(5).play(Infinity);
    await jest.advanceTimersByTimeAsync(600);
    expect(seen.slice(5)).toEqual(['2100 p5', '2600 p6']);
    const outcome = await settled;
    expect(outcome).toBeInstanceOf(BeatBudgetExceededError);
    expect(outcome).toMatchObject({ startBeat: 4, expiredAtBeat: 6 });
    expect(aborted).toHaveLength(1);

    // A claim goes out at once, stamped by the faked wall clock.
    const claim = await client.emitStatusClaim({ state: 'executing', beatsLeft: 2, progress: 0 });
    expect(test.claims.map((recorded) => recorded.claim)).toEqual([claim]);
    expect(claim.beat_index).toBe(6);
    expect(hlcPhysicalMs(claim.hlc)).toBe(Date.now());

    // Disconnected: health says so, claims wait; reconnected: they go out.
    connection.disconnect();
    await firstValueFrom(client.health$.pipe(filter((value) => !value.connected)));
    await client.emitStatusClaim({ state: 'waiting', beatsLeft: 1, progress: 0.5 });
    expect(client.metrics().status.buffered).toBe(1);
    expect(test.claims).toHaveLength(1);
    await connection.reconnect();
    await firstValueFrom(client.health$.pipe(filter((value) => value.reconnectCount === 1)));
    expect(test.claims.map((recorded) => recorded.claim.state)).toEqual(['executing', 'waiting']);
    expect(client.health()).toMatchObject({ connected: true, reconnectCount: 1 });

    played.unsubscribe();
    await test.stop();
    expect(jest.getTimerCount()).toBe(0);
    expect(
      health.map((value) => [value.connected, value.localDegradation, value.tempoBpm]),
    ).toEqual([
      [false, false, 60], // subscribed before start()
      [true, false, 60],
      [true, false, 120],
      [true, true, 120],
      [true, false, 120],
      [false, false, 120],
      [true, false, 120],
    ]);
  });

  it('leaves no timer behind when stopped while degraded and playing', async () => {
    test = createTestClient();
    await test.client.start();
    test.pulse().play(Infinity);
    await jest.advanceTimersByTimeAsync(1000);
    test.pulse({ pulseId: 'quiet' }); // never plays
    expect(jest.getTimerCount()).toBeGreaterThan(0);
    await test.stop();
    expect(jest.getTimerCount()).toBe(0);
    expect(test.client.getCurrentBeat()).toBe(2);
  });
});
