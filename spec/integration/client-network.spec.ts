/**
 * The client's connection state and claims around stop() and reconnections, against real
 * nats-servers (issue 14, items 2, 5 and 7): claims emitted in the tick before `stop()` reach an
 * observer, a JetStream status stream found missing on a later connect is reported with its
 * cause, and a shared connection that is mid-reconnect is not trusted as up.
 */
import { Events, type Msg } from 'nats';
import { firstValueFrom } from 'rxjs';
import { ConfigError } from '../../lib/errors';
import { statusSubject } from '../../lib/protocol/subjects';
import { freePorts, startNatsServer } from '../support/nats-server';
import {
  cleanUp,
  closeLater,
  collect,
  healthWhere,
  makeClient,
  makePulse,
  nextBeat,
  nextStatus,
  rawConnection,
} from '../client/client-support';

const FAST = { fallbackTempoBpm: 1200, reconnectDelayMs: 50, maxReconnectDelayMs: 200 } as const;
const decoder = new TextDecoder();

function progressOf(msg: Msg): number {
  return (JSON.parse(decoder.decode(msg.data)) as { progress: number }).progress;
}

describe('client network lifecycle', () => {
  afterEach(cleanUp);

  it('flushes claims emitted in the tick before stop() to an observer', async () => {
    const cluster = 'net-stop-tick';
    const server = await startNatsServer();
    const observer = closeLater(await rawConnection(server.url));
    const claims = collect(observer, statusSubject(cluster, 'a'));
    await observer.flush();
    const pulse = await makePulse({ natsUrl: server.url, clusterId: cluster, tempoBpm: 1200 });
    const client = makeClient({ clusterId: cluster, agentId: 'a', natsUrl: server.url, ...FAST });
    await client.start();
    await nextBeat(client, (beat) => beat.source === 'pulse');

    const emitted = [0.1, 0.2, 0.3].map((progress) =>
      client.emitStatusClaim({ state: 'done', beatsLeft: 0, progress }),
    );
    const stopped = client.stop({ timeoutMs: 2000 });
    await expect(Promise.all(emitted)).resolves.toHaveLength(3);
    await expect(stopped).resolves.toEqual({ dropped: 0 });
    const arrived = await claims.take(3);
    expect(arrived.map(progressOf)).toEqual([0.1, 0.2, 0.3]);
    // After stop() has begun, a claim is refused (it was not emitted before the stop).
    await expect(
      client.emitStatusClaim({ state: 'done', beatsLeft: 0, progress: 1 }),
    ).rejects.toMatchObject({ code: 'BACKBEAT_CLIENT_STATE' });
    await pulse.stop();
    await server.stop();
  });

  it('reports a JetStream status stream found missing on a later connect, with its cause', async () => {
    const cluster = 'net-missing-stream';
    const [port] = await freePorts(1);
    const client = makeClient({
      clusterId: cluster,
      agentId: 'a',
      natsUrl: `nats://127.0.0.1:${port}`,
      statusDelivery: 'jetstream',
      ...FAST,
    });
    const verdicts = firstValueFrom(client.statusClaims$()).then(
      () => 'a verdict',
      (error: unknown) => error,
    );
    await client.start();
    expect(client.health()).toMatchObject({ connected: false, localDegradation: true });

    const server = await startNatsServer({ port, jetstream: true });
    await healthWhere(client, (health) => health.connected);
    // statusClaims$, subscribed while degraded, fails with the cause once the check has run.
    const error = await verdicts;
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/does not exist/);
    expect(client.health().reason).toMatch(/BACKBEAT_STATUS_net-missing-stream.*does not exist/);
    await expect(
      client.emitStatusClaim({ state: 'executing', beatsLeft: 1, progress: 0.5 }),
    ).rejects.toBeInstanceOf(ConfigError);
    await client.stop({ timeoutMs: 0 });
    await server.stop();
  });

  it('buffers claims while a shared connection is mid-reconnect and sends them, in order, once it is back', async () => {
    const cluster = 'net-shared-reconnect';
    const server = await startNatsServer();
    const shared = closeLater(await rawConnection(server.url));
    // The shared connection is its own observer: nats.js re-subscribes before anything else
    // goes out on the reconnected link.
    const claims = collect(shared, statusSubject(cluster, 'a'));
    await shared.flush();
    const disconnected = nextStatus(shared, Events.Disconnect);
    await server.stop();
    await disconnected;

    const client = makeClient({ clusterId: cluster, agentId: 'a', connection: shared, ...FAST });
    await client.start();
    expect(client.health().connected).toBe(false);
    await nextBeat(client, (beat) => beat.source === 'synthetic');
    const progresses = [0.1, 0.2, 0.3, 0.4];
    for (const progress of progresses) {
      await client.emitStatusClaim({ state: 'executing', beatsLeft: 1, progress });
    }
    expect(client.metrics().status.buffered).toBe(progresses.length);

    const back = healthWhere(client, (health) => health.connected);
    await server.restart();
    await back;
    await client.flush();
    const arrived = await claims.take(progresses.length);
    expect(arrived.map(progressOf)).toEqual(progresses);
    await client.stop();
    // The client never closes a shared connection.
    expect(shared.isClosed()).toBe(false);
    await server.stop();
  });
});
