/**
 * Status claims of the client with a JetStream server (issue 6, client level): the status stream
 * checked at start, claims stored, core claims buffered across a server crash (the stream is the
 * witness of what reached the server), and the last claim per agent replayed to observers.
 */
import { type JsMsg, type NatsConnection } from 'nats';
import { firstValueFrom, from, lastValueFrom, take, toArray } from 'rxjs';
import { emitStatus } from '../../lib/operators/emit-status';
import { generateSigningKey } from '../../lib/crypto/keys';
import { ConfigError } from '../../lib/errors';
import type { StatusClaim, StatusClaimInput } from '../../lib/protocol/status-claim';
import { statusStreamName, statusSubject } from '../../lib/protocol/subjects';
import { ensureStatusStream } from '../../lib/transport/ensure-status-stream';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';
import {
  cleanUp,
  closeLater,
  healthWhere,
  makeClient,
  nextBeat,
  nextReconnect,
  rawConnection,
} from '../client/client-support';

const decoder = new TextDecoder();
const input: StatusClaimInput = { state: 'executing', beatsLeft: 3, progress: 0.5 };
const FAST = {
  fallbackTempoBpm: 1200,
  reconnectDelayMs: 50,
  maxReconnectDelayMs: 200,
} as const;

/** The first `count` claims stored in the cluster's status stream, in stream order. */
async function storedClaims(
  nc: NatsConnection,
  clusterId: string,
  count: number,
): Promise<StatusClaim[]> {
  const consumer = await nc.jetstream().consumers.get(statusStreamName(clusterId));
  const messages = await consumer.consume();
  const claims: StatusClaim[] = [];
  for await (const msg of messages as AsyncIterable<JsMsg>) {
    claims.push(JSON.parse(decoder.decode(msg.data)) as StatusClaim);
    if (claims.length === count) break;
  }
  return claims;
}

describe('client status claims with JetStream', () => {
  afterEach(cleanUp);

  let server: NatsServerHandle;
  let raw: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    raw = await rawConnection(server.url);
  });
  afterAll(async () => {
    await raw.close();
    await server.stop();
  });

  it("refuses to start with statusDelivery 'jetstream' when the status stream is missing", async () => {
    const client = makeClient({
      clusterId: 'js-missing',
      agentId: 'a',
      natsUrl: server.url,
      statusDelivery: 'jetstream',
    });
    const error: unknown = await client.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('statusDelivery');
    expect((error as ConfigError).message).toMatch(/ensureStatusStream/);
    await expect(client.emitStatusClaim(input)).rejects.toThrow(/after stop/);
  });

  it('stores each claim once the stream acknowledges it', async () => {
    const cluster = 'js-stored';
    await ensureStatusStream(raw, cluster);
    const client = makeClient({
      clusterId: cluster,
      agentId: 'a',
      natsUrl: server.url,
      statusDelivery: 'jetstream',
      ...FAST,
    });
    await client.start();
    const sent: StatusClaim[] = [];
    for (const n of [1, 2, 3]) sent.push(await client.emitStatusClaim({ ...input, beatsLeft: n }));
    expect(client.metrics().status).toMatchObject({ emitted: 3, buffered: 0 });
    // Acknowledged means stored: read back at once, with its message id.
    const jsm = await raw.jetstreamManager();
    const stored = await jsm.streams.getMessage(statusStreamName(cluster), {
      last_by_subj: statusSubject(cluster, 'a'),
    });
    expect(JSON.parse(decoder.decode(stored.data))).toEqual(sent[2]);
    expect(stored.header.get('Nats-Msg-Id')).toBe(`a:${sent[2].hlc}`);
    await expect(storedClaims(raw, cluster, 3)).resolves.toEqual(sent);
    await expect(client.stop()).resolves.toEqual({ dropped: 0 });
  });

  it('emitStatus hands claims to the bounded buffer at once and emits those acknowledged, in order', async () => {
    const cluster = 'js-operator';
    await ensureStatusStream(raw, cluster);
    const client = makeClient({
      clusterId: cluster,
      agentId: 'a',
      natsUrl: server.url,
      statusDelivery: 'jetstream',
      statusBufferSize: 2,
      ...FAST,
    });
    await client.start();
    await nextBeat(client);
    const inputs = ['a', 'b', 'c', 'd', 'e'].map((notes) => ({ ...input, notes }));
    const emitted = lastValueFrom(from(inputs).pipe(emitStatus(client), toArray()));
    // All five reached the buffer as they arrived: the three oldest were pushed out of it.
    expect(client.metrics().status).toMatchObject({ dropped: 3, buffered: 2 });
    const sent = await emitted;
    expect(sent.map((claim) => claim.notes)).toEqual(['d', 'e']);
    const jsm = await raw.jetstreamManager();
    const stored = await jsm.streams.getMessage(statusStreamName(cluster), {
      last_by_subj: statusSubject(cluster, 'a'),
    });
    expect(JSON.parse(decoder.decode(stored.data))).toEqual(sent[1]);
    await client.stop();
  });

  it('sends core claims buffered across a server crash after it reconnects, in order', async () => {
    const own = await startNatsServer({ jetstream: true });
    const cluster = 'js-crash';
    const admin = closeLater(await rawConnection(own.url));
    await ensureStatusStream(admin, cluster);
    const client = makeClient({ clusterId: cluster, agentId: 'a', natsUrl: own.url, ...FAST });
    await client.start();
    await nextBeat(client);
    const before = await client.emitStatusClaim({ ...input, notes: 'before' });
    await client.flush();

    const down = healthWhere(client, (health) => !health.connected);
    const adminBack = nextReconnect(admin);
    await own.kill();
    await down;
    const buffered: StatusClaim[] = [];
    for (let n = 0; n < 5; n++) {
      buffered.push(await client.emitStatusClaim({ ...input, beatsLeft: n, notes: 'while down' }));
    }
    expect(client.metrics().status.buffered).toBe(5);

    await own.restart();
    await healthWhere(client, (health) => health.connected);
    await client.flush();
    await adminBack;
    expect(client.metrics().status).toMatchObject({ buffered: 0, dropped: 0, emitted: 6 });
    // The stream (kept on disk across the crash) took every claim, in emission order.
    await expect(storedClaims(admin, cluster, 6)).resolves.toEqual([before, ...buffered]);
    await client.stop();
    await admin.close();
    await own.stop();
  });

  it("replays the last stored claim of an agent that is gone with deliver: 'last-per-agent'", async () => {
    const cluster = 'js-replay';
    await ensureStatusStream(raw, cluster);
    const key = generateSigningKey();
    const gone = makeClient({
      clusterId: cluster,
      agentId: 'gone',
      natsUrl: server.url,
      statusDelivery: 'jetstream',
      signingKey: key.secretKey,
      ...FAST,
    });
    await gone.start();
    await gone.emitStatusClaim({ ...input, notes: 'first' });
    const last = await gone.emitStatusClaim({
      ...input,
      state: 'done',
      progress: 1,
      notes: 'last',
    });
    await gone.stop();

    const observer = makeClient({
      clusterId: cluster,
      agentId: 'observer',
      natsUrl: server.url,
      ...FAST,
    });
    await observer.start();
    const [replayed] = await firstValueFrom(
      observer
        .statusClaims$({ trustedKeys: { gone: key.publicKey }, deliver: 'last-per-agent' })
        .pipe(take(1), toArray()),
    );
    expect(replayed).toEqual({ ok: true, claim: last });
    await observer.stop();
  });
});
