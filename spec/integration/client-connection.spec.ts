/**
 * The client's connection against real nats-servers (issue 4): NATS unreachable at start and
 * appearing later on that port, a host that never speaks NATS, token authentication, and a
 * server killed and restarted under a following client.
 */
import { connect } from 'nats';
import { filter, firstValueFrom } from 'rxjs';
import { ConnectionError } from '../../lib/errors';
import {
  authorizationConfig,
  freePorts,
  startNatsServer,
  type NatsServerHandle,
} from '../support/nats-server';
import { startSilentHost, type SilentHost } from '../support/silent-host';
import {
  cleanUp,
  closeLater,
  healthWhere,
  makeClient,
  makePulse,
  nextBeat,
  record,
  recordingLogger,
} from '../client/client-support';

/** Quick reconnects, so that the suite is short. */
const FAST = { reconnectDelayMs: 50, maxReconnectDelayMs: 200 } as const;

describe('client connection', () => {
  afterEach(cleanUp);

  it('starts degraded when NATS is unreachable, then joins the pulse once a server listens on that port', async () => {
    const cluster = 'conn-late';
    const [port] = await freePorts(1);
    const logger = recordingLogger();
    const client = makeClient({
      clusterId: cluster,
      agentId: 'a',
      natsUrl: `nats://127.0.0.1:${port}`,
      connectTimeoutMs: 5000,
      fallbackTempoBpm: 1200,
      logger,
      ...FAST,
    });
    const synthetic = firstValueFrom(
      client.beat$.pipe(filter((beat) => beat.source === 'synthetic' && beat.beat_index >= 1)),
    );
    await client.start();
    expect(client.health()).toMatchObject({ connected: false, localDegradation: true });
    expect(client.health().reason).toMatch(/unreachable/);
    expect(logger.lines('warn', 'NATS unreachable')).toHaveLength(1);
    const beat = await synthetic;
    expect(beat).toMatchObject({ phase: 'degraded', pulse_id: 'a', cluster_id: cluster });

    const server = await startNatsServer({ port });
    const connected = await healthWhere(client, (health) => health.connected);
    // Connected, still on synthetic beats until a pulse frame comes: the reason says so.
    expect(connected.reason).toMatch(
      /^connected to NATS but no pulse frame on backbeat\.conn-late\.beat/,
    );
    const pulse = await makePulse({ natsUrl: server.url, clusterId: cluster, tempoBpm: 1200 });
    const followed = await nextBeat(client, (b) => b.source === 'pulse');
    // The first pulse frame after only synthetic beats starts a new timeline.
    expect(followed).toMatchObject({ pulse_id: pulse.pulseId, timelineReset: true });
    expect(client.health().localDegradation).toBe(false);
    await client.stop();
    await pulse.stop();
    await server.stop();
  });

  it('gives up after maxReconnects dials and keeps time on synthetic beats', async () => {
    const [port] = await freePorts(1);
    const client = makeClient({
      clusterId: 'conn-give-up',
      agentId: 'a',
      natsUrl: `nats://127.0.0.1:${port}`,
      maxReconnects: 1,
      fallbackTempoBpm: 1200,
      ...FAST,
    });
    await client.start();
    expect(client.health()).toMatchObject({ connected: false, localDegradation: true });
    expect(client.health().reason).toMatch(/no NATS server answered after 1 dial/);
    await expect(nextBeat(client, (beat) => beat.beat_index >= 1)).resolves.toMatchObject({
      source: 'synthetic',
    });
    expect(client.metrics().errors.total).toBeGreaterThanOrEqual(1);
  });

  describe('a host that accepts TCP but never speaks NATS', () => {
    let silent: SilentHost;
    beforeAll(async () => {
      silent = await startSilentHost();
    });
    afterAll(() => silent.stop());

    it('start() still resolves degraded, and synthetic beats flow', async () => {
      const client = makeClient({
        clusterId: 'conn-silent',
        agentId: 'a',
        natsUrl: silent.url,
        connectTimeoutMs: 300,
        fallbackTempoBpm: 1200,
        ...FAST,
      });
      const beats = record(client.beat$);
      const dialled = silent.nextAccepted();
      await client.start();
      expect(client.health()).toMatchObject({ connected: false, localDegradation: true });
      // The SDK really dialled the silent host (it is not refused, it just never answers).
      await dialled;
      await nextBeat(client, (beat) => beat.beat_index >= 2);
      expect(beats.values.every((beat) => beat.source === 'synthetic')).toBe(true);
      // From 0, one after the other; a slot (the first's included) the loaded event loop let pass is skipped and
      // counted as missed, never emitted late (at 1200 BPM a slot is 50 ms).
      const [first, ...rest] = beats.values;
      expect(first.beat_index).toBe(first.missedBefore);
      rest.forEach((beat, i) => {
        expect(beat.beat_index).toBe(beats.values[i].beat_index + 1 + beat.missedBefore);
      });
      await expect(client.stop({ timeoutMs: 100 })).resolves.toEqual({ dropped: 0 });
    });

    it('closes each dial it gives up on: sockets do not pile up while it retries', async () => {
      const client = makeClient({
        clusterId: 'conn-silent-retries',
        agentId: 'a',
        natsUrl: silent.url,
        connectTimeoutMs: 100,
        reconnectDelayMs: 10,
        maxReconnectDelayMs: 20,
      });
      const before = silent.accepted.length;
      const fourDials = (async () => {
        while (silent.accepted.length - before < 4) await silent.nextAccepted();
      })();
      await client.start();
      await fourDials;
      // Each of the three dials given up on is closed: waited on (their FIN may still be on its
      // way when the fourth dial arrives); a socket left open fails the test by its timeout.
      const givenUp = silent.accepted.slice(before, before + 3);
      await Promise.all(givenUp.map(({ closed }) => closed));
      expect(givenUp.every(({ socket }) => socket.destroyed)).toBe(true);
      await client.stop({ timeoutMs: 100 });
      // The one in progress is closed by stop() (it abandons the dial).
      await Promise.all(silent.accepted.slice(before).map(({ closed }) => closed));
    });

    it('stopped while start() dials it, neither degrades nor warns after the stop', async () => {
      const logger = recordingLogger();
      const client = makeClient({
        clusterId: 'conn-silent-stop',
        agentId: 'a',
        natsUrl: silent.url,
        connectTimeoutMs: 5000,
        logger,
        ...FAST,
      });
      const dialled = silent.nextAccepted();
      const started = client.start();
      await dialled;
      await client.stop({ timeoutMs: 100 });
      await started;
      expect(logger.lines('warn', 'unreachable')).toEqual([]);
      expect(client.metrics().beats.synthetic).toBe(0);
    });
  });

  describe('a token-protected server', () => {
    let server: NatsServerHandle;
    beforeAll(async () => {
      server = await startNatsServer({ config: authorizationConfig({ token: 's3cret' }) });
    });
    afterAll(async () => {
      await server.stop();
    });

    it('refuses a wrong token: start() rejects with ConnectionError', async () => {
      const client = makeClient({
        clusterId: 'conn-auth',
        agentId: 'a',
        natsUrl: server.url,
        natsOptions: { token: 'wrong' },
        ...FAST,
      });
      const ended = firstValueFrom(client.beat$, { defaultValue: 'completed' });
      await expect(client.start()).rejects.toBeInstanceOf(ConnectionError);
      // The refused client stopped itself.
      await expect(ended).resolves.toBe('completed');
    });

    it('follows the pulse with the right token', async () => {
      const client = makeClient({
        clusterId: 'conn-auth',
        agentId: 'a',
        natsUrl: server.url,
        natsOptions: { token: 's3cret' },
        ...FAST,
      });
      await client.start();
      expect(client.health().connected).toBe(true);
      // The dev pulse takes no auth options: it publishes over a connection with the token.
      const nc = closeLater(await connect({ servers: server.url, token: 's3cret' }));
      const pulse = await makePulse({ connection: nc, clusterId: 'conn-auth', tempoBpm: 1200 });
      await expect(nextBeat(client, (beat) => beat.source === 'pulse')).resolves.toMatchObject({
        pulse_id: pulse.pulseId,
      });
      await client.stop();
      await pulse.stop();
      await nc.close();
    });
  });

  it('keeps time through a server crash, reconnects by itself and follows the pulse again', async () => {
    const cluster = 'conn-crash';
    const server = await startNatsServer();
    const pulse = await makePulse({ natsUrl: server.url, clusterId: cluster, tempoBpm: 1200 });
    const client = makeClient({
      clusterId: cluster,
      agentId: 'a',
      natsUrl: server.url,
      ...FAST,
    });
    await client.start();
    await nextBeat(client, (beat) => beat.source === 'pulse');
    const healths = record(client.health$);

    const down = healthWhere(client, (health) => !health.connected);
    await server.kill();
    await down;
    const synthetic = await nextBeat(client, (beat) => beat.source === 'synthetic');
    expect(synthetic.phase).toBe('degraded');
    expect(client.health().localDegradation).toBe(true);

    await server.restart();
    const back = await healthWhere(client, (health) => health.connected);
    expect(back.reconnectCount).toBeGreaterThanOrEqual(1);
    expect(client.metrics().connection.reconnects).toBeGreaterThanOrEqual(1);
    const followed = await nextBeat(client, (beat) => beat.source === 'pulse');
    expect(followed.pulse_id).toBe(pulse.pulseId);
    // A pulse that kept its indexes: no new timeline, the gap counted as missed or behind.
    expect(followed.timelineReset).toBe(false);
    expect(followed.beat_index).toBeGreaterThan(synthetic.beat_index);
    expect(client.health().localDegradation).toBe(false);
    expect(healths.values.map((h) => h.connected)).toEqual(
      expect.arrayContaining([true, false, true]),
    );
    await client.stop();
    await pulse.stop();
    await server.stop();
  });
});
