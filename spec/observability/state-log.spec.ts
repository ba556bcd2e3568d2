/**
 * State changes as log lines (issue 16): one structured line each, at `info`, or `warn` where the
 * user must act. On jest's fake time with the test kit (exact lines, in order), then on a real
 * nats-server (a restart, a cluster name typo, NATS unreachable, a missing status stream).
 */
import { filter, firstValueFrom } from 'rxjs';
import { createTestClient, type TestClient } from '@chorus-services/backbeat/testing';
import { freePorts, startNatsServer, type NatsServerHandle } from '../support/nats-server';
import {
  cleanUp,
  healthWhere,
  makeClient,
  makePulse,
  nextBeat,
  recordingLogger,
  type LogEntry,
} from '../client/client-support';

/** `level message` of each line, for an exact comparison. */
const said = (entries: readonly LogEntry[]): string[] =>
  entries.filter((entry) => entry.level !== 'debug').map((e) => `${e.level} ${e.message}`);

describe('state changes on fake time', () => {
  let test: TestClient | undefined;

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_800_000_000_000 });
  });

  afterEach(async () => {
    await test?.stop({ timeoutMs: 0 });
    test = undefined;
    jest.useRealTimers();
  });

  it('says connected, following, degraded (and why), recovered, switched, reset, disconnected, reconnected', async () => {
    const logger = recordingLogger();
    test = createTestClient({ clusterId: 'chorus-dev', jitterToleranceMs: 100, logger });
    const { client, connection } = test;
    await client.start();
    const first = test.pulse({ pulseId: 'pulse-a', tempoBpm: 120 });
    first.jumpTo(40).play(3); // beats 40, 41, 42 at 0, 500, 1000 ms; then silence
    await jest.advanceTimersByTimeAsync(1000);
    expect(client.health().reason).toBeNull();
    await jest.advanceTimersByTimeAsync(600); // degraded at 1600: one period and the tolerance
    expect(client.health()).toMatchObject({ localDegradation: true });
    expect(client.health().reason).toBe(
      "connected to NATS but no pulse frame on backbeat.chorus-dev.beat for 0.6 s: pulse 'pulse-a' went silent",
    );
    await jest.advanceTimersByTimeAsync(1000); // synthetic beats 43, 44, 45 (1600, 2100, 2600)
    test.pulse({ pulseId: 'pulse-b', tempoBpm: 120 }).jumpTo(2).play(1); // another pulse, a new timeline
    await jest.advanceTimersByTimeAsync(0);

    connection.disconnect();
    await firstValueFrom(client.health$.pipe(filter((value) => !value.connected)));
    await connection.reconnect();
    await firstValueFrom(client.health$.pipe(filter((value) => value.reconnectCount === 1)));

    expect(said(logger.entries)).toEqual([
      'info backbeat: connected to NATS',
      "info backbeat: following pulse 'pulse-a' on backbeat.chorus-dev.beat",
      "warn backbeat: degraded, keeping time on local synthetic beats: connected to NATS but no pulse frame on backbeat.chorus-dev.beat for 0.6 s: pulse 'pulse-a' went silent",
      "info backbeat: pulse switched from 'pulse-a' to 'pulse-b'",
      'info backbeat: timeline reset: beat 45 → 2',
      "info backbeat: recovered: following pulse 'pulse-b' again after 3 synthetic beats",
      'info backbeat: disconnected from NATS',
      'info backbeat: reconnected to NATS',
    ]);
    const fields = (text: string): unknown =>
      logger.entries.find((e) => e.message?.includes(text))?.fields;
    expect(fields('recovered')).toEqual({ syntheticBeats: 3, pulseId: 'pulse-b' });
    expect(fields('pulse switched')).toMatchObject({
      from: 'pulse-a',
      to: 'pulse-b',
      beatIndex: 2,
    });
    expect(fields('timeline reset')).toMatchObject({ from: 45, to: 2 });
    expect(fields('reconnected')).toMatchObject({ reconnects: 1 });
    expect(fields('disconnected')).toMatchObject({ reason: expect.stringMatching(/disconnected/) });
  });

  it('names the silent subject when no pulse ever came, counting the seconds', async () => {
    const logger = recordingLogger();
    test = createTestClient({ clusterId: 'chorus-dve', jitterToleranceMs: 100, logger });
    await test.client.start();
    await jest.advanceTimersByTimeAsync(1100); // one period at the 60 BPM fallback, and the tolerance
    expect(test.client.health().localDegradation).toBe(true);
    await jest.advanceTimersByTimeAsync(11_000);
    expect(test.client.health().reason).toBe(
      "connected to NATS but no pulse frame on backbeat.chorus-dve.beat for 12 s: is a pulse running for cluster 'chorus-dve'? (check the cluster name)",
    );
    expect(logger.lines('warn', 'degraded')).toHaveLength(1);
    expect(logger.lines('warn', 'degraded')[0].message).toContain('for 1.1 s');
  });

  it('keeps the last error as { atMs, code, message } and counts refused claim inputs', async () => {
    test = createTestClient();
    const { client } = test;
    await client.start();
    expect(client.metrics().errors).toEqual({ total: 0, last: null });
    const pulse = test.pulse();
    pulse.play(1);
    await jest.advanceTimersByTimeAsync(0);
    const bad = { state: 'executing', beatsLeft: -1, progress: 0 } as const;
    await expect(client.emitStatusClaim(bad)).rejects.toMatchObject({
      code: 'BACKBEAT_STATUS_CLAIM_INVALID',
    });
    expect(client.metrics().errors.total).toBe(1);
    expect(client.metrics().errors.last).toEqual({
      atMs: Date.now(),
      code: 'BACKBEAT_STATUS_CLAIM_INVALID',
      message: expect.stringContaining('beatsLeft'),
    });
    jest.setSystemTime(Date.now() + 5);
    client.onBeat(() => {
      throw new Error('boom');
    });
    pulse.play(1);
    await jest.advanceTimersByTimeAsync(0);
    expect(client.metrics().errors).toEqual({
      total: 2,
      last: { atMs: Date.now(), code: 'BACKBEAT_BEAT_CALLBACK', message: 'boom' },
    });
  });
});

describe('state changes on a real nats-server', () => {
  let server: NatsServerHandle;

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
  });
  afterEach(cleanUp);
  afterAll(() => server.stop());

  it('says connected (to which server), disconnected and reconnected (how many times) across a restart', async () => {
    const logger = recordingLogger();
    const client = makeClient({
      clusterId: 'log-restart',
      agentId: 'a',
      natsUrl: server.url,
      reconnectDelayMs: 50,
      maxReconnectDelayMs: 200,
      logger,
    });
    await client.start();
    expect(logger.lines('info', 'connected to NATS')[0].fields).toEqual({
      server: expect.stringContaining(`:${server.port}`),
    });
    const reconnected = healthWhere(
      client,
      (health) => health.reconnectCount === 1 && health.connected,
    );
    await server.restart();
    await reconnected;
    expect(logger.lines('info', 'disconnected from NATS')).toHaveLength(1);
    expect(logger.lines('info', 'reconnected to NATS')).toHaveLength(1);
    expect(logger.lines('info', 'reconnected to NATS')[0].fields).toMatchObject({ reconnects: 1 });
  });

  it('says so when a pulse runs on another cluster name than the client follows (a typo)', async () => {
    const logger = recordingLogger();
    await makePulse({ natsUrl: server.url, clusterId: 'chorus-dev', tempoBpm: 1200 });
    const client = makeClient({
      clusterId: 'chorus-dve',
      agentId: 'a',
      natsUrl: server.url,
      fallbackTempoBpm: 1200,
      logger,
    });
    await client.start();
    const degraded = await healthWhere(client, (health) => health.localDegradation);
    expect(degraded.connected).toBe(true);
    expect(degraded.reason).toMatch(
      /^connected to NATS but no pulse frame on backbeat\.chorus-dve\.beat for [\d.]+ s: is a pulse running for cluster 'chorus-dve'\?/,
    );
    expect(logger.lines('warn', 'degraded')[0].message).toContain('backbeat.chorus-dve.beat');
  });

  it('says it is degraded because NATS is unreachable, once', async () => {
    const [port] = await freePorts(1);
    const logger = recordingLogger();
    const client = makeClient({
      clusterId: 'log-unreachable',
      agentId: 'a',
      natsUrl: `nats://127.0.0.1:${port}`,
      connectTimeoutMs: 5000,
      logger,
    });
    await client.start();
    await nextBeat(client, (beat) => beat.source === 'synthetic');
    expect(said(logger.entries)).toEqual([
      expect.stringMatching(
        /^warn backbeat: degraded, keeping time on local synthetic beats: .*unreachable/,
      ),
    ]);
  });

  it('says the status stream is missing, and how to create it', async () => {
    const logger = recordingLogger();
    const client = makeClient({
      clusterId: 'log-nostream',
      agentId: 'a',
      natsUrl: server.url,
      statusDelivery: 'jetstream',
      logger,
    });
    await expect(client.start()).rejects.toThrow(/does not exist/);
    const [line] = logger.lines('warn', 'status stream missing');
    expect(line.message).toContain('backbeat stream ensure --cluster log-nostream');
  });
});
