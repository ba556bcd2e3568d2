/**
 * Hostile user code against a real nats-server (issue 14, item 1): a logger that throws from any
 * method, callbacks that throw, junk on the beat subject, a server that is not there. The client
 * keeps reading NATS and keeping time, counts each failure in metrics().errors, stop() resolves,
 * and nothing reaches the process as an unhandled rejection or an uncaught exception.
 */
import type { NatsConnection } from 'nats';
import type { Logger } from '../../lib/observability/logger';
import { freePorts, startNatsServer, type NatsServerHandle } from '../support/nats-server';
import {
  beatFrame,
  cleanUp,
  clientHasSeen,
  json,
  makeClient,
  makePulse,
  nextBeat,
  publishFrame,
  rawConnection,
} from '../client/client-support';

const CLUSTER = 'hostile-it';
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

/** A logger whose `throwing` methods throw, and that counts every call by level. */
function hostileLogger(throwing: readonly Level[]): Logger & { calls: Record<Level, number> } {
  const calls = { debug: 0, info: 0, warn: 0, error: 0 };
  const at = (level: Level) => () => {
    calls[level]++;
    if (throwing.includes(level)) throw new Error(`the logger's ${level} threw`);
  };
  return {
    calls,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => {
      throw new Error("the logger's child threw");
    },
  };
}

/** Junk of every kind the frame judge refuses, and a frame of another cluster. */
const JUNK: Uint8Array[] = [
  new TextEncoder().encode('not json {'),
  json([1, 2, 3]),
  json({ type: 'backbeat.beatframe.v1' }),
  json(beatFrame('other-cluster', 'p', 1)),
  new Uint8Array(5000),
  new Uint8Array([0xff, 0xfe, 0x00]),
];

/** Resolves when `condition()` holds; polled, with a deadline only as the failure guard. */
async function until(condition: () => boolean, what: string, deadlineMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > deadlineMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves with `promise`, or fails after a deadline (a failure guard, not a measurement). */
function within<T>(promise: Promise<T>, what: string, deadlineMs = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle`)), deadlineMs);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

describe('a client among hostile code and input', () => {
  let server: NatsServerHandle;
  let raw: NatsConnection;
  const escaped: unknown[] = [];
  const onEscape = (error: unknown): void => {
    escaped.push(error);
  };

  beforeAll(async () => {
    server = await startNatsServer();
    raw = await rawConnection(server.url);
  });
  beforeEach(() => {
    escaped.length = 0;
    process.on('unhandledRejection', onEscape);
    process.on('uncaughtException', onEscape);
  });
  afterEach(async () => {
    await cleanUp();
    // Anything the client let escape (a rejection, or an error rxjs rethrows on a timer) shows
    // up within a turn of the event loop.
    await new Promise((resolve) => setTimeout(resolve, 0));
    await new Promise((resolve) => setImmediate(resolve));
    process.off('unhandledRejection', onEscape);
    process.off('uncaughtException', onEscape);
    expect(escaped).toEqual([]);
  });
  afterAll(async () => {
    await raw.close();
    await server.stop();
  });

  it.each(LEVELS)(
    'keeps following the pulse when the logger throws from %s, with junk frames and throwing callbacks',
    async (level) => {
      const pulse = await makePulse({ natsUrl: server.url, clusterId: CLUSTER, tempoBpm: 600 });
      const logger = hostileLogger([level]);
      const client = makeClient({
        clusterId: CLUSTER,
        agentId: `agent-${level}`,
        natsUrl: server.url,
        logger,
      });
      let called = 0;
      client.onBeat(() => {
        called++;
        throw new Error('onBeat threw');
      });
      client.onDownbeat(() => Promise.reject(new Error('onDownbeat rejected')));
      await within(client.start(), 'start()');
      await within(
        nextBeat(client, (beat) => beat.source === 'pulse'),
        'a first pulse beat',
      );

      for (let round = 0; round < 3; round++) {
        for (const junk of JUNK) publishFrame(raw, CLUSTER, junk);
      }
      await clientHasSeen(raw, client);
      expect(client.metrics().beats.received).toBeGreaterThanOrEqual(JUNK.length * 3);

      // The socket is still read: pulse beats keep coming after the junk.
      const after = client.getCurrentBeat();
      await within(
        nextBeat(client, (beat) => beat.source === 'pulse' && beat.beat_index > after + 2),
        'pulse beats after the junk',
      );
      expect(client.health()).toMatchObject({ connected: true, localDegradation: false });
      expect(called).toBeGreaterThan(0);
      expect(client.metrics().beats.callbackErrors).toBeGreaterThan(0);
      // Every failure of the logger was counted: it was called, and it threw each time.
      const thrown = logger.calls[level];
      if (level === 'warn' || level === 'error') expect(thrown).toBeGreaterThan(0);
      expect(client.metrics().errors.total).toBeGreaterThanOrEqual(
        client.metrics().beats.callbackErrors + thrown,
      );
      await within(client.stop({ timeoutMs: 1000 }), 'stop()');
      await pulse.stop();
    },
  );

  it('starts degraded, keeps time and stops when the server is unreachable and every logger method throws', async () => {
    const [port] = await freePorts(1);
    const logger = hostileLogger(LEVELS);
    const client = makeClient({
      clusterId: CLUSTER,
      agentId: 'agent-unreachable',
      natsUrl: `nats://127.0.0.1:${port}`,
      connectTimeoutMs: 200,
      reconnectDelayMs: 20,
      maxReconnectDelayMs: 40,
      fallbackTempoBpm: 1200,
      logger,
    });
    client.onBeat(() => {
      throw new Error('onBeat threw');
    });
    // The warning that NATS is unreachable throws: start() still resolves, degraded.
    await within(client.start(), 'start()');
    expect(client.health()).toMatchObject({ connected: false, localDegradation: true });
    await within(nextBeat(client), 'a synthetic beat');
    // The dial loop logs each failed dial at debug, which throws: it goes on dialling.
    await until(() => logger.calls.debug >= 3, 'three failed dials logged');
    await within(
      nextBeat(client, (beat) => beat.source === 'synthetic'),
      'synthetic beats after the dials',
    );
    expect(logger.calls.warn).toBeGreaterThan(0);
    expect(logger.calls.error).toBeGreaterThan(0);
    expect(client.metrics().errors.total).toBeGreaterThanOrEqual(
      logger.calls.debug + logger.calls.warn + client.metrics().beats.callbackErrors,
    );
    await within(client.stop({ timeoutMs: 1000 }), 'stop()');
  });
});
