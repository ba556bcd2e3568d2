/**
 * Beat budgets on a client's beats against a real nats-server (issue 5, client level):
 * client.withinBeats counts from the current beat, withBeatBudget settles with the work or at
 * expiry (aborting its signal), stop() closes pending budgets, and metrics().budgets counts.
 */
import { firstValueFrom, lastValueFrom, NEVER, of } from 'rxjs';
import type { Beat } from '../../lib/beats/beat';
import type { BackbeatClient } from '../../lib/client';
import { BeatBudgetExceededError, BeatSourceClosedError } from '../../lib/errors';
import { startPulse, type Pulse } from '../../lib/pulse/pulse';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';
import { cleanUp, makeClient, nextBeat, record } from './client-support';

describe('client beat budgets', () => {
  afterEach(cleanUp);

  let server: NatsServerHandle;
  let pulse: Pulse;
  const cluster = 'budgets';

  beforeAll(async () => {
    server = await startNatsServer();
    // Not makePulse: it lives for the whole file, past each test's cleanUp.
    pulse = await startPulse({ natsUrl: server.url, clusterId: cluster, tempoBpm: 1200 });
  });
  afterAll(async () => {
    await pulse.stop();
    await server.stop();
  });

  let client: BackbeatClient;
  beforeEach(() => {
    client = makeClient({ clusterId: cluster, agentId: 'a', natsUrl: server.url });
  });
  afterEach(async () => {
    await client.stop({ timeoutMs: 100 });
  });

  it('client.withinBeats(n) counts from the beat current at subscription', async () => {
    const beats = record(client.beat$);
    await client.start();
    const outcome = new Promise<{ from: Beat; error: unknown }>((resolve) => {
      const sub = client.beat$.subscribe((beat) => {
        if (beat.beat_index < 2) return;
        sub.unsubscribe();
        NEVER.pipe(client.withinBeats(3)).subscribe({
          error: (error: unknown) => resolve({ from: beat, error }),
        });
      });
    });
    const { from, error } = await outcome;
    expect(error).toBeInstanceOf(BeatBudgetExceededError);
    const exceeded = error as BeatBudgetExceededError;
    const after = beats.values.filter((beat) => beat.beat_index > from.beat_index);
    const expiry = after.find((beat) => beat.beat_index >= from.beat_index + 3);
    expect(exceeded.info).toEqual({
      budget: 3,
      startBeat: from.beat_index,
      expiredAtBeat: expiry?.beat_index,
    });
  });

  it('counts from just before the first beat when none is known yet', async () => {
    const beats = record(client.beat$);
    const budget = firstValueFrom(NEVER.pipe(client.withinBeats(2))).catch((e: unknown) => e);
    await client.start();
    const error = (await budget) as BeatBudgetExceededError;
    expect(error).toBeInstanceOf(BeatBudgetExceededError);
    expect(error.startBeat).toBe(beats.values[0].beat_index - 1);
    expect(error.expiredAtBeat).toBe(beats.values[1].beat_index);
  });

  it('withBeatBudget gives the work its value or its error', async () => {
    await client.start();
    await nextBeat(client);
    await expect(client.withBeatBudget(50, () => 42)).resolves.toBe(42);
    await expect(client.withBeatBudget(50, async () => Promise.resolve('async'))).resolves.toBe(
      'async',
    );
    const mine = new Error('mine');
    await expect(
      client.withBeatBudget(50, () => {
        throw mine;
      }),
    ).rejects.toBe(mine);
    await expect(client.withBeatBudget(50, () => Promise.reject(mine))).rejects.toBe(mine);
    expect(client.metrics().budgets).toEqual({
      created: 4,
      completed: 2,
      timedOut: 0,
      pending: 0,
    });
  });

  it('at expiry aborts the signal with the error and rejects with it', async () => {
    await client.start();
    const start = await nextBeat(client);
    let signal: AbortSignal | undefined;
    const error: unknown = await client
      .withBeatBudget(2, (s) => {
        signal = s;
        return new Promise<never>(() => undefined);
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BeatBudgetExceededError);
    expect((error as BeatBudgetExceededError).startBeat).toBeGreaterThanOrEqual(start.beat_index);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(error);
    expect(client.metrics().budgets).toEqual({ created: 1, completed: 0, timedOut: 1, pending: 0 });
  });

  it('stop() rejects pending budgets with BeatSourceClosedError', async () => {
    await client.start();
    await nextBeat(client);
    let signal: AbortSignal | undefined;
    const pending = client
      .withBeatBudget(1_000_000, (s) => {
        signal = s;
        return new Promise<never>(() => undefined);
      })
      .catch((e: unknown) => e);
    const piped = firstValueFrom(NEVER.pipe(client.withinBeats(1_000_000))).catch(
      (e: unknown) => e,
    );
    const done = lastValueFrom(of('done').pipe(client.withinBeats(5)));
    await expect(done).resolves.toBe('done');
    expect(client.metrics().budgets).toMatchObject({ created: 3, completed: 1, pending: 2 });

    await client.stop();
    const [fromBudget, fromPipe] = await Promise.all([pending, piped]);
    expect(fromBudget).toBeInstanceOf(BeatSourceClosedError);
    expect(fromPipe).toBeInstanceOf(BeatSourceClosedError);
    expect(signal?.reason).toBe(fromBudget);
    expect(client.metrics().budgets).toEqual({ created: 3, completed: 1, timedOut: 0, pending: 0 });
  });
});
