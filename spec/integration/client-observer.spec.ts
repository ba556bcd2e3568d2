/**
 * The client as an observer and its accounting: statusClaims$ before start() and at stop(), the
 * ids it exposes, and metrics that account for every beat frame received.
 */
import { firstValueFrom, toArray } from 'rxjs';
import { generateSigningKey } from '../../lib/crypto/keys';
import { ClientStateError } from '../../lib/errors';
import type { StatusVerdict } from '../../lib/operators/verify-status';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';
import {
  beatFrame,
  cleanUp,
  clientHasSeen,
  closeLater,
  json,
  makeClient,
  nextBeat,
  publishFrame,
  rawConnection,
  record,
} from '../client/client-support';

const CLUSTER = 'observer-it';

describe('the client as an observer', () => {
  let server: NatsServerHandle;
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterEach(cleanUp);
  afterAll(async () => {
    await server.stop();
  });

  it('names its cluster and agent', () => {
    const client = makeClient({ clusterId: CLUSTER, agentId: 'named', natsUrl: server.url });
    expect([client.clusterId, client.agentId]).toEqual([CLUSTER, 'named']);
  });

  it('lets statusClaims$ be subscribed before start(), and completes it at stop()', async () => {
    const { secretKey, publicKey } = generateSigningKey();
    const observer = makeClient({ clusterId: CLUSTER, agentId: 'observer', natsUrl: server.url });
    const agent = makeClient({
      clusterId: CLUSTER,
      agentId: 'agent-1',
      natsUrl: server.url,
      signingKey: secretKey,
      fallbackTempoBpm: 6000, // no pulse here: the first (synthetic) beat comes in ~110 ms
    });
    const verdicts = firstValueFrom(
      observer.statusClaims$({ trustedKeys: { 'agent-1': publicKey } }).pipe(toArray()),
    );
    await observer.start();
    await agent.start();
    // The observer's subscription exists once start() resolved: a round trip orders it first.
    await observer.flush();
    const claim = await agent.emitStatusClaim({ state: 'planning', beatsLeft: 2, progress: 0 });
    await agent.flush();
    const raw = closeLater(await rawConnection(server.url));
    await clientHasSeen(raw, observer);
    await observer.stop();
    const seen: StatusVerdict[] = await verdicts;
    expect(seen).toEqual([{ ok: true, claim }]);
  });

  it('refuses statusClaims$ after stop()', async () => {
    const client = makeClient({ clusterId: CLUSTER, agentId: 'late', natsUrl: server.url });
    await client.start();
    await client.stop();
    await expect(firstValueFrom(client.statusClaims$())).rejects.toBeInstanceOf(ClientStateError);
  });

  it('completes statusClaims$ at stop() on a shared connection too', async () => {
    const shared = closeLater(await rawConnection(server.url));
    const client = makeClient({ clusterId: CLUSTER, agentId: 'sharer', connection: shared });
    await client.start();
    const verdicts = firstValueFrom(
      client.statusClaims$({ requireSignature: false }).pipe(toArray()),
    );
    await client.stop();
    await expect(verdicts).resolves.toEqual([]);
    expect(shared.isClosed()).toBe(false);
  });

  it('accounts for every beat frame: delivered, behind, or rejected by reason', async () => {
    const client = makeClient({ clusterId: CLUSTER, agentId: 'counter', natsUrl: server.url });
    const raw = closeLater(await rawConnection(server.url));
    await client.start();
    const delivered = record(client.beat$);
    const first = nextBeat(client, (beat) => beat.source === 'pulse');
    // A slow tempo (a 10 s period): however loaded the machine, pulse 'p' stays followed and
    // no synthetic beat comes between these frames.
    const frame = (pulseId: string, index: number) =>
      json(beatFrame(CLUSTER, pulseId, index, { tempo_bpm: 6 }));
    publishFrame(raw, CLUSTER, frame('p', 10));
    await first;
    publishFrame(raw, CLUSTER, frame('p', 10)); // a duplicate: behind
    publishFrame(raw, CLUSTER, frame('p', 9)); // older: behind
    publishFrame(raw, CLUSTER, new TextEncoder().encode('{')); // not-json
    publishFrame(raw, CLUSTER, frame('other', 11)); // other-pulse
    publishFrame(raw, CLUSTER, frame('p', 11));
    await clientHasSeen(raw, client);
    const { beats } = client.metrics();
    const rejected = Object.entries(beats.rejected)
      .filter(([reason]) => reason !== 'hlc-skew')
      .reduce((sum, [, count]) => sum + count, 0);
    expect(beats.received).toBe(6);
    expect(beats.behind).toBe(2);
    expect(beats.rejected['not-json']).toBe(1);
    expect(beats.rejected['other-pulse']).toBe(1);
    expect(beats.delivered).toBe(2);
    expect(beats.delivered + beats.behind + rejected).toBe(beats.received);
    expect(
      delivered.values.filter((beat) => beat.source === 'pulse').map((b) => b.beat_index),
    ).toEqual([10, 11]);
  });
});
