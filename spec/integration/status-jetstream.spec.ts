/**
 * Status claims through JetStream against a real nats-server with a file store: the stream made
 * and checked, every claim stored exactly once and in order across a server crash.
 */
import { Events, nanos, StorageType, type NatsConnection } from 'nats';
import nacl from 'tweetnacl';
import { sealClaim, type SealedClaim } from '../../lib/claims/seal-claim';
import { validateClaimInput } from '../../lib/claims/validate-claim-input';
import { makeDefaultTaskId } from '../../lib/claims/default-task-id';
import { HybridLogicalClock } from '../../lib/clock/hlc';
import { decodeStrictBase64 } from '../../lib/crypto/base64';
import { generateSigningKey, parseSigningKey } from '../../lib/crypto/keys';
import { ConfigError } from '../../lib/errors';
import { statusStreamName } from '../../lib/protocol/subjects';
import { windowIdFor } from '../../lib/protocol/windows';
import { checkStatusStream, ensureStatusStream } from '../../lib/transport/ensure-status-stream';
import { StatusClaimDroppedError, StatusPublisher } from '../../lib/transport/status-publisher';
import { nextStatus, rawConnection } from '../client/client-support';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';

const AGENT = 'agent-js';
const FAST_RETRIES = { ackTimeoutMs: 2000, retryDelayMs: 20, maxRetryDelayMs: 200 };

function claimMaker(clusterId: string, signingKey?: Uint8Array) {
  const clock = new HybridLogicalClock(AGENT);
  const defaultTaskId = makeDefaultTaskId();
  const key = signingKey === undefined ? undefined : parseSigningKey(signingKey);
  return (n: number): SealedClaim =>
    sealClaim(
      validateClaimInput({ state: 'waiting', beatsLeft: n, progress: 0, waitFor: [`job-${n}`] }),
      {
        clusterId,
        agentId: AGENT,
        defaultTaskId,
        beat: { beat_index: n, window_id: windowIdFor(clusterId, n) },
        hlc: clock.tick(),
        ...(key === undefined ? {} : { signingKey: key }),
      },
    );
}

/** Every message of the stream, oldest first. */
async function storedClaims(nc: NatsConnection, clusterId: string) {
  const jsm = await nc.jetstreamManager();
  const stream = statusStreamName(clusterId);
  const { state } = await jsm.streams.info(stream);
  const stored = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    stored.push(await jsm.streams.getMessage(stream, { seq }));
  }
  return stored;
}

/** Polls the server until it answers JetStream requests again (after a restart); deadline 10 s. */
async function jetStreamReady(nc: NatsConnection, clusterId: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await (await nc.jetstreamManager()).streams.info(statusStreamName(clusterId));
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
  }
}

describe('JetStream status delivery against nats-server', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
  });

  beforeEach(async () => {
    nc = await rawConnection(server.url);
  });

  afterEach(async () => {
    await nc.close();
  });

  afterAll(async () => {
    await server.stop();
  });

  describe('ensureStatusStream and checkStatusStream', () => {
    it('checkStatusStream names statusDelivery and the way out when the stream is missing', async () => {
      const error = await checkStatusStream(nc, 'missing').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect(error).toMatchObject({ field: 'statusDelivery' });
      expect((error as Error).message).toContain('BACKBEAT_STATUS_missing');
      expect((error as Error).message).toContain('ensureStatusStream');
      expect((error as Error).message).toContain('backbeat stream ensure --cluster missing');
    });

    it('creates a file-stored stream with the asked settings, then finds nothing to update', async () => {
      await expect(ensureStatusStream(nc, 'made')).resolves.toEqual({
        stream: 'BACKBEAT_STATUS_made',
        created: true,
        updated: [],
      });
      const { config } = await (await nc.jetstreamManager()).streams.info('BACKBEAT_STATUS_made');
      expect(config).toMatchObject({
        subjects: ['backbeat.made.status.>'],
        storage: StorageType.File,
        num_replicas: 1,
        duplicate_window: nanos(600_000),
        max_age: nanos(86_400_000),
      });
      await expect(checkStatusStream(nc, 'made')).resolves.toBeUndefined();
      await expect(ensureStatusStream(nc, 'made')).resolves.toEqual({
        stream: 'BACKBEAT_STATUS_made',
        created: false,
        updated: [],
      });
    });

    it('updates an existing stream whose settings differ, and says which', async () => {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({
        name: 'BACKBEAT_STATUS_drift',
        subjects: ['elsewhere.>'],
        storage: StorageType.File,
        duplicate_window: nanos(1000),
        max_age: nanos(3_600_000),
      });
      const result = await ensureStatusStream(nc, 'drift', { duplicateWindowMs: 60_000 });
      expect(result).toEqual({
        stream: 'BACKBEAT_STATUS_drift',
        created: false,
        updated: ['subjects', 'duplicateWindowMs'],
      });
      const { config } = await jsm.streams.info('BACKBEAT_STATUS_drift');
      expect(config.subjects).toEqual(['elsewhere.>', 'backbeat.drift.status.>']);
      expect(config.duplicate_window).toBe(nanos(60_000));
      expect(config.max_age).toBe(nanos(3_600_000)); // not given: kept
    });

    it('keeps the settings of an existing stream that it is not given', async () => {
      await ensureStatusStream(nc, 'kept', { maxAgeMs: 7_200_000, duplicateWindowMs: 30_000 });
      await expect(ensureStatusStream(nc, 'kept')).resolves.toEqual({
        stream: 'BACKBEAT_STATUS_kept',
        created: false,
        updated: [],
      });
      const jsm = await nc.jetstreamManager();
      const { config } = await jsm.streams.info('BACKBEAT_STATUS_kept');
      expect(config.max_age).toBe(nanos(7_200_000));
      expect(config.duplicate_window).toBe(nanos(30_000));
      // A duplicate window longer than the age kept is refused, naming the setting given.
      await expect(
        ensureStatusStream(nc, 'kept', { duplicateWindowMs: 8_000_000 }),
      ).rejects.toMatchObject({ field: 'duplicateWindowMs' });
    });

    it('refuses a memory-stored stream, naming storage', async () => {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({
        name: 'BACKBEAT_STATUS_volatile',
        subjects: ['backbeat.volatile.status.>'],
        storage: StorageType.Memory,
      });
      await expect(ensureStatusStream(nc, 'volatile')).rejects.toMatchObject({
        field: 'storage',
      });
    });

    it.each([
      ['clusterId', 'bad.cluster', {}],
      ['replicas', 'ok', { replicas: 0 }],
      ['duplicateWindowMs', 'ok', { duplicateWindowMs: -5 }],
      ['maxAgeMs', 'ok', { duplicateWindowMs: 60_000, maxAgeMs: 1000 }],
    ])('refuses a bad %s with a ConfigError naming it', async (field, clusterId, options) => {
      const error = await ensureStatusStream(nc, clusterId, options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect(error).toMatchObject({ field });
    });
  });

  it('stores each claim once, in order, its signature valid over the stored bytes', async () => {
    const cluster = 'stored';
    await ensureStatusStream(nc, cluster);
    const { secretKey, publicKey } = generateSigningKey();
    const publisher = new StatusPublisher({ delivery: 'jetstream', bufferSize: 16 });
    publisher.attach(nc);
    const make = claimMaker(cluster, secretKey);
    const sealed = [1, 2, 3, 4, 5].map(make);
    await Promise.all(sealed.map((claim) => publisher.publish(claim)));
    await publisher.flush();
    const stored = await storedClaims(nc, cluster);
    expect(stored.map((msg) => msg.data)).toEqual(sealed.map((claim) => claim.payload));
    for (const msg of stored) {
      const signature = decodeStrictBase64(msg.header.get('x-signature'), 64)!;
      expect(nacl.sign.detached.verify(msg.data, signature, publicKey)).toBe(true);
      expect(msg.header.get('Nats-Msg-Id')).toBe(`${AGENT}:${msg.header.get('x-hlc')}`);
    }
    expect(publisher.metrics()).toEqual({
      emitted: 5,
      errors: 0,
      buffered: 0,
      dropped: 0,
      retries: 0,
    });
    await publisher.drain(1000);
  });

  it('stores a claim re-sent with the same Nats-Msg-Id once', async () => {
    const cluster = 'dedup';
    await ensureStatusStream(nc, cluster);
    const make = claimMaker(cluster);
    const claim = make(1);
    for (let i = 0; i < 2; i++) {
      const publisher = new StatusPublisher({ delivery: 'jetstream', bufferSize: 4 });
      publisher.attach(nc);
      await publisher.publish(claim);
      await publisher.drain(1000);
    }
    expect(await storedClaims(nc, cluster)).toHaveLength(1);
  });

  it('keeps claims in flight across a server crash: every one acknowledged, stored exactly once, in order', async () => {
    const cluster = 'crash';
    await ensureStatusStream(nc, cluster);
    const publisher = new StatusPublisher({
      delivery: 'jetstream',
      bufferSize: 256,
      jetstream: FAST_RETRIES,
    });
    publisher.attach(nc);
    const make = claimMaker(cluster);
    const sealed = Array.from({ length: 200 }, (_, i) => make(i));
    const acknowledged = sealed.map((claim) => publisher.publish(claim));
    await acknowledged[2]; // a few are stored, the rest are queued or in flight
    const disconnected = nextStatus(nc, Events.Disconnect);
    await server.kill();
    await disconnected;
    expect(publisher.metrics().buffered).toBeGreaterThan(0);
    const reconnected = nextStatus(nc, Events.Reconnect);
    await server.restart();
    await reconnected;
    await Promise.all(acknowledged);
    await publisher.flush();
    const stored = await storedClaims(nc, cluster);
    expect(stored.map((msg) => msg.header.get('x-hlc'))).toEqual(
      sealed.map((claim) => claim.claim.hlc),
    );
    expect(publisher.metrics()).toMatchObject({ emitted: 200, buffered: 0, dropped: 0 });
    // The claim in flight at the crash was sent again.
    expect(publisher.metrics().retries).toBeGreaterThan(0);
    await publisher.drain(1000);
  });

  it('rejects the oldest unacknowledged claims beyond the bound while the server is down', async () => {
    const cluster = 'bounded';
    await ensureStatusStream(nc, cluster);
    const publisher = new StatusPublisher({
      delivery: 'jetstream',
      bufferSize: 3,
      jetstream: FAST_RETRIES,
    });
    publisher.attach(nc);
    const disconnected = nextStatus(nc, Events.Disconnect);
    await server.kill();
    await disconnected;
    const make = claimMaker(cluster);
    const sealed = Array.from({ length: 8 }, (_, i) => make(i));
    const outcomes = sealed.map((claim) =>
      publisher.publish(claim).then(
        () => 'acknowledged',
        (error: unknown) => error,
      ),
    );
    expect(publisher.metrics()).toMatchObject({ buffered: 3, dropped: 5 });
    const reconnected = nextStatus(nc, Events.Reconnect);
    await server.restart();
    await reconnected;
    const settled = await Promise.all(outcomes);
    for (const outcome of settled.slice(0, 5)) {
      expect(outcome).toBeInstanceOf(StatusClaimDroppedError);
      expect(outcome).toMatchObject({ reason: 'buffer-full' });
    }
    expect(settled.slice(5)).toEqual(['acknowledged', 'acknowledged', 'acknowledged']);
    await jetStreamReady(nc, cluster);
    const stored = await storedClaims(nc, cluster);
    expect(stored.map((msg) => msg.header.get('x-hlc'))).toEqual(
      sealed.slice(5).map((claim) => claim.claim.hlc),
    );
    await publisher.drain(1000);
  });

  it('checkStatusStream names statusDelivery on a server without JetStream', async () => {
    const plain = await startNatsServer();
    const plainNc = await rawConnection(plain.url);
    try {
      await expect(checkStatusStream(plainNc, 'any')).rejects.toMatchObject({
        field: 'statusDelivery',
        message: expect.stringContaining('JetStream'),
      });
    } finally {
      await plainNc.close();
      await plain.stop();
    }
  });
});
