/**
 * Status claims over core NATS against a real nats-server: the bytes and headers on the wire,
 * and no claim lost across a server crash while the buffer holds them.
 */
import { Events, type Msg, type NatsConnection } from 'nats';
import nacl from 'tweetnacl';
import { sealClaim, type ClaimContext } from '../../lib/claims/seal-claim';
import { validateClaimInput } from '../../lib/claims/validate-claim-input';
import { makeDefaultTaskId } from '../../lib/claims/default-task-id';
import { HybridLogicalClock } from '../../lib/clock/hlc';
import { decodeStrictBase64 } from '../../lib/crypto/base64';
import { generateSigningKey, parseSigningKey } from '../../lib/crypto/keys';
import { StatusClaimSchema } from '../../lib/protocol/status-claim';
import { statusWildcard } from '../../lib/protocol/subjects';
import { windowIdFor } from '../../lib/protocol/windows';
import { StatusPublisher } from '../../lib/transport/status-publisher';
import { nextStatus, rawConnection } from '../client/client-support';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';

const CLUSTER = 'it-core';
const AGENT = 'agent-1';

/** Subscribes to every claim of the cluster; `received(n)` resolves once n have arrived. */
function collectClaims(nc: NatsConnection) {
  const messages: Msg[] = [];
  let waiting: { count: number; resolve: () => void } | null = null;
  nc.subscribe(statusWildcard(CLUSTER), {
    callback: (_error, msg) => {
      messages.push(msg);
      if (waiting !== null && messages.length >= waiting.count) waiting.resolve();
    },
  });
  return {
    messages,
    received(count: number): Promise<Msg[]> {
      if (messages.length >= count) return Promise.resolve(messages);
      return new Promise((resolve) => {
        waiting = { count, resolve: () => resolve(messages) };
      });
    },
  };
}

function claimMaker(signingKey?: Uint8Array) {
  const clock = new HybridLogicalClock(AGENT);
  const ctx: Omit<ClaimContext, 'hlc'> = {
    clusterId: CLUSTER,
    agentId: AGENT,
    defaultTaskId: makeDefaultTaskId(),
    beat: { beat_index: 7, window_id: windowIdFor(CLUSTER, 7) },
    ...(signingKey === undefined ? {} : { signingKey: parseSigningKey(signingKey) }),
  };
  return (n: number) =>
    sealClaim(
      validateClaimInput({
        state: 'executing',
        beatsLeft: n,
        progress: 0.5,
        notes: `claim ${n} — ünïcödé`,
      }),
      { ...ctx, hlc: clock.tick() },
    );
}

describe('core status delivery against nats-server', () => {
  let server: NatsServerHandle;
  const connections: NatsConnection[] = [];

  beforeEach(async () => {
    server = await startNatsServer();
  });

  afterEach(async () => {
    await Promise.all(connections.splice(0).map((nc) => nc.close()));
    await server.stop();
  });

  it('puts the exact signed bytes and the exactly spelled headers on the wire', async () => {
    const { secretKey, publicKey } = generateSigningKey();
    const agentNc = await rawConnection(server.url);
    const observerNc = await rawConnection(server.url);
    connections.push(agentNc, observerNc);
    const observer = collectClaims(observerNc);
    await observerNc.flush();
    const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 16 });
    publisher.attach(agentNc);
    const make = claimMaker(secretKey);
    const sealed = [1, 2, 3].map(make);
    for (const claim of sealed) await publisher.publish(claim);
    await publisher.flush();
    const messages = await observer.received(3);
    expect(messages.map((msg) => msg.subject)).toEqual(sealed.map((claim) => claim.subject));
    messages.forEach((msg, i) => {
      const claim = sealed[i];
      expect(msg.data).toEqual(claim.payload);
      expect(StatusClaimSchema.parse(JSON.parse(new TextDecoder().decode(msg.data)))).toEqual(
        claim.claim,
      );
      expect(msg.headers!.keys()).toEqual([
        'x-agent-id',
        'x-window-id',
        'x-hlc',
        'Nats-Msg-Id',
        'x-signature',
        'x-public-key',
      ]);
      expect(msg.headers!.get('x-hlc')).toBe(claim.claim.hlc);
      expect(msg.headers!.get('Nats-Msg-Id')).toBe(`${AGENT}:${claim.claim.hlc}`);
      const signature = decodeStrictBase64(msg.headers!.get('x-signature'), 64)!;
      expect(decodeStrictBase64(msg.headers!.get('x-public-key'), 32)).toEqual(publicKey);
      expect(nacl.sign.detached.verify(msg.data, signature, publicKey)).toBe(true);
    });
    expect(publisher.metrics()).toEqual({
      emitted: 3,
      errors: 0,
      buffered: 0,
      dropped: 0,
      retries: 0,
    });
    await expect(publisher.drain(1000)).resolves.toEqual({ dropped: 0, flushed: true });
  });

  it('holds claims while the server is down and sends all, in order, after it restarts', async () => {
    const nc = await rawConnection(server.url);
    connections.push(nc);
    // The subscription shares the agent's connection: nats.js re-subscribes on the reconnect
    // before anything else is sent, so nothing the agent sends afterwards can be missed.
    const observer = collectClaims(nc);
    const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 64 });
    publisher.attach(nc);
    const make = claimMaker();
    await publisher.publish(make(0));
    await publisher.flush();
    await observer.received(1);

    const disconnected = nextStatus(nc, Events.Disconnect);
    await server.kill();
    await disconnected;
    const held = Array.from({ length: 20 }, (_, i) => make(i + 1));
    for (const claim of held) await publisher.publish(claim); // core: resolves when queued
    expect(publisher.metrics()).toMatchObject({ buffered: 20, dropped: 0 });

    const reconnected = nextStatus(nc, Events.Reconnect);
    await server.restart();
    await reconnected;
    await publisher.flush();
    const messages = await observer.received(21);
    expect(messages.slice(1).map((msg) => msg.headers!.get('x-hlc'))).toEqual(
      held.map((claim) => claim.claim.hlc),
    );
    expect(publisher.metrics()).toMatchObject({ emitted: 21, buffered: 0, dropped: 0 });
    await publisher.drain(1000);
  });

  it('keeps only the newest bufferSize claims through an outage, counting the oldest dropped', async () => {
    const nc = await rawConnection(server.url);
    connections.push(nc);
    const observer = collectClaims(nc);
    const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 5 });
    publisher.attach(nc);
    const make = claimMaker();

    const disconnected = nextStatus(nc, Events.Disconnect);
    await server.kill();
    await disconnected;
    const held = Array.from({ length: 12 }, (_, i) => make(i));
    for (const claim of held) await publisher.publish(claim);
    expect(publisher.metrics()).toMatchObject({ buffered: 5, dropped: 7 });

    const reconnected = nextStatus(nc, Events.Reconnect);
    await server.restart();
    await reconnected;
    await publisher.flush();
    const messages = await observer.received(5);
    expect(messages.map((msg) => msg.headers!.get('x-hlc'))).toEqual(
      held.slice(7).map((claim) => claim.claim.hlc),
    );
    expect(publisher.metrics()).toEqual({
      emitted: 5,
      errors: 0,
      buffered: 0,
      dropped: 7,
      retries: 0,
    });
    await publisher.drain(1000);
  });

  it('buffers claims made before any connection and sends them once attached', async () => {
    const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 8 });
    const make = claimMaker();
    const early = [1, 2].map(make);
    for (const claim of early) await publisher.publish(claim);
    const nc = await rawConnection(server.url);
    connections.push(nc);
    const observer = collectClaims(nc);
    await nc.flush();
    publisher.attach(nc);
    await publisher.flush();
    const messages = await observer.received(2);
    expect(messages.map((msg) => msg.data)).toEqual(early.map((claim) => claim.payload));
    await publisher.drain(1000);
  });

  it('drain on a dead server gives up on the held claims within its limit', async () => {
    const nc = await rawConnection(server.url);
    connections.push(nc);
    const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 8 });
    publisher.attach(nc);
    const disconnected = nextStatus(nc, Events.Disconnect);
    await server.kill();
    await disconnected;
    const make = claimMaker();
    for (const n of [1, 2, 3]) await publisher.publish(make(n));
    await expect(publisher.drain(50)).resolves.toEqual({ dropped: 3, flushed: false });
    expect(publisher.metrics()).toMatchObject({ buffered: 0, dropped: 3 });
  });
});
