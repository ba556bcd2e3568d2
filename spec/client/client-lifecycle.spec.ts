/**
 * The client's lifecycle against a real nats-server (README.md, A tour; issue 4): start, stop,
 * disposal, shared connections, config refusals, health$, callbacks and the beat accessors.
 */
import type { NatsConnection } from 'nats';
import { filter, firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import type { Beat } from '../../lib/beats/beat';
import { createClient, type BackbeatClient } from '../../lib/client';
import type { ClientParts } from '../../lib/client-parts';
import { ClientStateError, ConfigError } from '../../lib/errors';
import { healthChanged, type HealthStatus } from '../../lib/observability/health';
import { beatIndexToLegacy } from '../../lib/protocol/legacy';
import { statusSubject } from '../../lib/protocol/subjects';
import type { Pulse } from '../../lib/pulse/pulse';
import type { NatsServerHandle } from '../support/nats-server';
import {
  beatFrame,
  closeLater,
  collect,
  json,
  makeClient,
  makePulse,
  nextBeat,
  publishFrame,
  rawConnection,
  record,
  recordingLogger,
  useLiveServer,
} from './client-support';

/** The client's own connection, which only the client holds (to check that stop closes it). */
function ownConnection(client: BackbeatClient): NatsConnection | null {
  return (client as unknown as { parts: ClientParts }).parts.connection.link?.connection ?? null;
}

describe('client lifecycle', () => {
  let server: NatsServerHandle;
  let raw: NatsConnection;
  useLiveServer((live) => ({ server, raw } = live));

  it('start() resolves once the beat subscription is registered', async () => {
    const cluster = 'life-sub';
    // No pulse: the only pulse beat can be the frame published right after start(). The
    // slowest fallback tempo (a 60 s period) keeps degradation out of reach however long the
    // machine takes to start.
    const client = makeClient({
      clusterId: cluster,
      agentId: 'a',
      natsUrl: server.url,
      fallbackTempoBpm: 1,
    });
    const pulseBeat = nextBeat(client, (beat) => beat.source === 'pulse');
    await client.start();
    expect(client.health()).toMatchObject({ connected: true, localDegradation: false });
    publishFrame(raw, cluster, json(beatFrame(cluster, 'manual', 42)));
    await expect(pulseBeat).resolves.toMatchObject({ beat_index: 42, pulse_id: 'manual' });
    await client.stop();
  });

  it('start() twice gives the same promise; stop() is idempotent and completes every stream', async () => {
    const cluster = 'life-stop';
    const pulse = await makePulse({ natsUrl: server.url, clusterId: cluster, tempoBpm: 1200 });
    const client = makeClient({ clusterId: cluster, agentId: 'a', natsUrl: server.url });
    expect(client.start()).toBe(client.start());
    await client.start();
    await nextBeat(client, (beat) => beat.source === 'pulse');
    const ends = Promise.all([
      lastValueFrom(client.beat$.pipe(toArray())),
      lastValueFrom(client.downbeat$.pipe(toArray())),
      lastValueFrom(client.health$.pipe(toArray())),
    ]);
    const nc = ownConnection(client);
    expect(nc?.isClosed()).toBe(false);

    const first = client.stop({ timeoutMs: 1000 });
    expect(client.stop()).toBe(first);
    expect(client.stop({ timeoutMs: 1 })).toBe(first);
    await expect(first).resolves.toEqual({ dropped: 0 });
    const [, , healths] = await ends;
    expect(healths.length).toBeGreaterThanOrEqual(1);
    expect(nc?.isClosed()).toBe(true);
    expect(client.health().connected).toBe(false);
    // Nothing more after stop: a new subscription to beat$ completes at once.
    await expect(lastValueFrom(client.beat$.pipe(toArray()))).resolves.toEqual([]);

    await expect(client.start()).rejects.toBeInstanceOf(ClientStateError);
    await pulse.stop();
  });

  it('stops at the end of an `await using` scope', async () => {
    let nc: NatsConnection | null = null;
    let escaped: BackbeatClient;
    {
      await using client = createClient({
        clusterId: 'life-using',
        agentId: 'a',
        natsUrl: server.url,
      });
      escaped = client;
      await client.start();
      nc = ownConnection(client);
      expect(nc?.isClosed()).toBe(false);
    }
    expect(nc?.isClosed()).toBe(true);
    await expect(escaped.start()).rejects.toBeInstanceOf(ClientStateError);
    // The dispose call is the client's stop(): calling it again is harmless.
    await expect(escaped[Symbol.asyncDispose]()).resolves.toBeUndefined();
  });

  it('refuses natsOptions the SDK owns, at createClient', () => {
    for (const key of ['servers', 'reconnect', 'maxReconnectAttempts', 'timeout']) {
      let caught: unknown;
      try {
        createClient({
          clusterId: 'c',
          agentId: 'a',
          natsOptions: { [key]: key === 'servers' ? [server.url] : 1 },
        });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).field).toBe(`natsOptions.${key}`);
    }
    // A key the SDK does not own passes.
    expect(() =>
      createClient({ clusterId: 'c', agentId: 'a', natsOptions: { name: 'mine' } }),
    ).not.toThrow();
  });

  it('two clients share one connection, and stopping them never closes it', async () => {
    const cluster = 'life-shared';
    const shared = closeLater(await rawConnection(server.url));
    const pulse = await makePulse({ natsUrl: server.url, clusterId: cluster, tempoBpm: 1200 });
    const one = makeClient({ clusterId: cluster, agentId: 'one', connection: shared });
    const two = makeClient({ clusterId: cluster, agentId: 'two', connection: shared });
    // nats.js keeps one listener per status() feed: the clients must give theirs back.
    const listeners = () => (shared as unknown as { listeners: unknown[] }).listeners.length;
    const listenersBefore = listeners();
    await Promise.all([one.start(), two.start()]);
    expect(listeners()).toBeGreaterThan(listenersBefore);
    expect(one.health().connected).toBe(true);
    const [beatOne, beatTwo] = await Promise.all([
      nextBeat(one, (beat) => beat.source === 'pulse'),
      nextBeat(two, (beat) => beat.source === 'pulse'),
    ]);
    expect(beatOne.pulse_id).toBe(pulse.pulseId);
    expect(beatTwo.pulse_id).toBe(pulse.pulseId);

    const claims = collect(raw, `backbeat.${cluster}.status.*`);
    await raw.flush();
    await one.emitStatusClaim({ state: 'executing', beatsLeft: 1, progress: 0 });
    await two.emitStatusClaim({ state: 'review', beatsLeft: 0, progress: 1 });
    const subjects = (await claims.take(2)).map((msg) => msg.subject).sort();
    expect(subjects).toEqual([statusSubject(cluster, 'one'), statusSubject(cluster, 'two')]);

    await one.stop();
    expect(shared.isClosed()).toBe(false);
    // The other client still follows the pulse over the shared connection.
    const afterStop = two.getCurrentBeat();
    await expect(
      nextBeat(two, (beat) => beat.source === 'pulse' && beat.beat_index > afterStop),
    ).resolves.toBeDefined();
    await two.stop();
    expect(shared.isClosed()).toBe(false);
    await new Promise<void>((resolve) => setImmediate(resolve)); // feeds end in a microtask
    expect(listeners()).toBe(listenersBefore);
    // …and the connection is still usable.
    const echo = collect(shared, 'life.shared.echo');
    await shared.flush();
    shared.publish('life.shared.echo', json({ ok: true }));
    await expect(echo.take(1)).resolves.toHaveLength(1);
    await pulse.stop();
    await shared.close();
  });

  it('health$ gives the current value, then changes only', async () => {
    const cluster = 'life-health';
    const client = makeClient({
      clusterId: cluster,
      agentId: 'a',
      natsUrl: server.url,
      // A 60 s fallback period: no synthetic beat before the frames below, however slowly the
      // machine starts the client.
      fallbackTempoBpm: 1,
    });
    const beforeStart = await firstValueFrom(client.health$);
    expect(beforeStart).toEqual(client.health());
    expect(beforeStart).toMatchObject({ connected: false, lastBeat: -1, lastBeatTime: null });

    await client.start();
    const healths = record(client.health$);
    expect(healths.values).toHaveLength(1);
    expect(healths.values[0]).toEqual(client.health());
    expect(healths.values[0].connected).toBe(true);

    // Frames at 600 BPM change the tempo once; later beats of the same tempo change nothing.
    const frames = record(client.beat$);
    const fourth = nextBeat(client, (beat) => beat.beat_index === 4);
    for (let index = 1; index <= 4; index++) {
      publishFrame(raw, cluster, json(beatFrame(cluster, 'manual', index)));
    }
    await fourth;
    expect(frames.values.map((beat) => beat.beat_index)).toEqual([1, 2, 3, 4]);
    expect(healths.values.map((health) => health.tempoBpm)).toEqual([1, 600]);
    for (let i = 1; i < healths.values.length; i++) {
      expect(healthChanged(healths.values[i - 1], healths.values[i])).toBe(true);
    }
    // Silence: degradation is a change.
    const degraded = await firstValueFrom(
      client.health$.pipe(filter((health: HealthStatus) => health.localDegradation)),
    );
    expect(degraded.localDegradation).toBe(true);
    expect(healths.values.at(-1)?.localDegradation).toBe(true);
    healths.stop();
    await client.stop();
  });

  it('a throwing onBeat callback is logged and counted and harms no other subscriber', async () => {
    const cluster = 'life-callback';
    const logger = recordingLogger();
    const pulse = await makePulse({ natsUrl: server.url, clusterId: cluster, tempoBpm: 1200 });
    const client = makeClient({ clusterId: cluster, agentId: 'a', natsUrl: server.url, logger });
    const thrown: number[] = [];
    client.onBeat((beat) => {
      thrown.push(beat.beat_index);
      throw new Error(`boom at ${beat.beat_index}`);
    });
    client.onDownbeat(() => Promise.reject(new Error('async boom')));
    const seen: Beat[] = [];
    client.onBeat((beat) => seen.push(beat));
    const plain = firstValueFrom(client.beat$.pipe(take(6), toArray()));
    await client.start();

    const six = await plain;
    expect(seen.slice(0, 6)).toEqual(six);
    expect(thrown.slice(0, 6)).toEqual(six.map((beat) => beat.beat_index));
    await client.stop();
    const downbeats = seen.filter((beat, i) => i === 0 || beat.window_id !== seen[i - 1].window_id);
    // Every beat's throw, and every downbeat's rejection, were counted and logged.
    const errors = thrown.length + downbeats.length;
    expect(client.metrics().beats.callbackErrors).toBe(errors);
    expect(logger.lines('error', 'beat callback threw')).toHaveLength(errors);
    expect(logger.lines('error', 'beat callback threw')[0].fields).toMatchObject({
      err: `boom at ${seen[0].beat_index}`,
    });
    await pulse.stop();
  });

  it('tells the current beat, its window and its legacy position', async () => {
    const cluster = 'life-current';
    const logger = recordingLogger();
    let pulse: Pulse | null = null;
    const client = makeClient({ clusterId: cluster, agentId: 'a', natsUrl: server.url, logger });
    expect(client.getCurrentBeat()).toBe(-1);
    expect(client.getCurrentWindow()).toBe('');
    expect(client.isInWindow('')).toBe(false);
    expect(client.getLegacyBeatInfo()).toBeNull();
    await client.start();

    // Read inside the subscriber: the state is the delivered beat's.
    const checked = firstValueFrom(
      client.beat$.pipe(
        filter((beat) => beat.source === 'pulse' && beat.beat_index >= 5),
        take(1),
        toArray(),
      ),
    );
    const inside: unknown[] = [];
    const sub = client.beat$.subscribe((beat) =>
      inside.push({
        beat: beat.beat_index,
        current: client.getCurrentBeat(),
        window: client.getCurrentWindow() === beat.window_id,
        inWindow: client.isInWindow(beat.window_id),
        legacy: client.getLegacyBeatInfo(),
        expected: beatIndexToLegacy(beat.beat_index, beat.beats_per_bar),
      }),
    );
    pulse = await makePulse({
      natsUrl: server.url,
      clusterId: cluster,
      tempoBpm: 1200,
      beatsPerBar: 3,
      startIndex: 3,
    });
    const [beat] = await checked;
    sub.unsubscribe();
    expect(inside.length).toBeGreaterThan(0);
    for (const entry of inside) {
      const {
        beat: index,
        current,
        window,
        inWindow,
        legacy,
        expected,
      } = entry as Record<string, unknown>;
      expect({ current, window, inWindow, legacy }).toEqual({
        current: index,
        window: true,
        inWindow: true,
        legacy: expected,
      });
    }
    expect(client.isInWindow('0'.repeat(32))).toBe(false);
    expect(beat.beats_per_bar).toBe(3);

    // convertLegacyBeat uses the current bar length (3) and warns once.
    expect(client.convertLegacyBeat(2, 1)).toBe(3);
    expect(client.convertLegacyBeat(3, 3)).toBe(8);
    expect(logger.lines('warn', 'convertLegacyBeat')).toHaveLength(1);
    await client.stop();
    await pulse.stop();
  });
});
