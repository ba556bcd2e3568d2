/**
 * Status claims sent by the client over core NATS on a real nats-server (issue 6, client level):
 * states, validation, the first beat, HLC order, signatures checked by tweetnacl, exact headers,
 * stop's drop count, the emitStatus operator, and statusClaims$.
 */
import type { Msg, NatsConnection } from 'nats';
import { filter, firstValueFrom, from, lastValueFrom, take, toArray } from 'rxjs';
import nacl from 'tweetnacl';
import type { BackbeatClient } from '../../lib/client';
import { decodeStrictBase64, encodeBase64 } from '../../lib/crypto/base64';
import { generateSigningKey } from '../../lib/crypto/keys';
import { ClientStateError, StatusClaimValidationError } from '../../lib/errors';
import type { StatusClaim, StatusClaimInput } from '../../lib/protocol/status-claim';
import { statusSubject, statusWildcard } from '../../lib/protocol/subjects';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';
import {
  collect,
  healthWhere,
  hlcTime,
  makeClient,
  makePulse,
  nextBeat,
  useLiveServer,
} from '../client/client-support';

const decoder = new TextDecoder();
const input: StatusClaimInput = { state: 'executing', beatsLeft: 3, progress: 0.25, notes: 'ok' };

/** Header name → values, names exactly as they came off the wire. */
function wireHeaders(msg: Msg): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const name of msg.headers?.keys() ?? []) result[name] = msg.headers?.values(name) ?? [];
  return result;
}

describe('client status claims over core NATS', () => {
  let server: NatsServerHandle;
  let raw: NatsConnection;
  useLiveServer((live) => ({ server, raw } = live));

  it('refuses claims before start() and after stop()', async () => {
    const client = makeClient({ clusterId: 'st-state', agentId: 'a', natsUrl: server.url });
    await expect(client.emitStatusClaim(input)).rejects.toBeInstanceOf(ClientStateError);
    await client.start();
    await client.stop();
    await expect(client.emitStatusClaim(input)).rejects.toBeInstanceOf(ClientStateError);
    await expect(firstValueFrom(client.statusClaims$())).rejects.toBeInstanceOf(ClientStateError);
  });

  it('refuses an invalid claim with every issue and publishes nothing of it', async () => {
    const cluster = 'st-invalid';
    const claims = collect(raw, statusWildcard(cluster));
    await raw.flush();
    const client = makeClient({
      clusterId: cluster,
      agentId: 'a',
      natsUrl: server.url,
      fallbackTempoBpm: 1200,
    });
    await client.start();
    await nextBeat(client);
    const error: unknown = await client
      .emitStatusClaim({ state: 'bogus', beatsLeft: -1, progress: 2 } as never)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StatusClaimValidationError);
    const paths = (error as StatusClaimValidationError).issues.map((issue) => issue.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['state', 'beatsLeft', 'progress']));
    // A valid claim after it, and a round trip: the first claim on the wire is the valid one.
    const sent = await client.emitStatusClaim(input);
    await client.flush();
    await raw.flush();
    expect(claims.messages.map((msg) => JSON.parse(decoder.decode(msg.data)) as unknown)).toEqual([
      sent,
    ]);
    expect(client.metrics().status.emitted).toBe(1);
    await client.stop();
  });

  it('holds a claim emitted before the first beat until that beat', async () => {
    const cluster = 'st-first';
    const claims = collect(raw, statusWildcard(cluster));
    await raw.flush();
    // No pulse: the first beat is synthetic, one period (200 ms) and the tolerance after start.
    const client = makeClient({
      clusterId: cluster,
      agentId: 'a',
      natsUrl: server.url,
      fallbackTempoBpm: 300,
    });
    const firstBeat = nextBeat(client);
    await client.start();
    expect(client.getCurrentBeat()).toBe(-1);
    const pending = [1, 2, 3].map((n) =>
      client.emitStatusClaim({ ...input, beatsLeft: n }).then((claim) => ({
        claim,
        currentAtResolution: client.getCurrentBeat(),
      })),
    );
    const results = await Promise.all(pending);
    const beat = await firstBeat;
    expect(beat.source).toBe('synthetic');
    for (const { claim, currentAtResolution } of results) {
      expect(claim).toMatchObject({ beat_index: beat.beat_index, window_id: beat.window_id });
      expect(currentAtResolution).toBeGreaterThanOrEqual(beat.beat_index);
    }
    // Sent in emission order, stamps increasing.
    await client.flush();
    const wire = (await claims.take(3)).map(
      (msg) => JSON.parse(decoder.decode(msg.data)) as unknown,
    );
    expect(wire).toEqual(results.map((r) => r.claim));
    const stamps = results.map((r) => r.claim.hlc);
    expect([...stamps].sort()).toEqual(stamps);
    expect(new Set(stamps).size).toBe(3);
    await client.stop();
  });

  it('rejects a claim still waiting for the first beat when stop() comes first', async () => {
    const client = makeClient({
      clusterId: 'st-never',
      agentId: 'a',
      natsUrl: server.url,
      fallbackTempoBpm: 1, // the first synthetic beat would come after a minute
    });
    await client.start();
    const waiting = client.emitStatusClaim(input).catch((error: unknown) => error);
    await client.stop({ timeoutMs: 100 });
    expect(await waiting).toBeInstanceOf(ClientStateError);
    expect(client.metrics().status.emitted).toBe(0);
  });

  it('stamps a claim after the beat it follows, even from a pulse whose clock runs ahead', async () => {
    const cluster = 'st-hlc';
    const pulse = await makePulse({
      natsUrl: server.url,
      clusterId: cluster,
      tempoBpm: 1200,
      physicalNow: () => Date.now() + 30_000, // within maxClockSkewMs: merged
    });
    const client = makeClient({ clusterId: cluster, agentId: 'a', natsUrl: server.url });
    await client.start();
    const beat = await nextBeat(client, (b) => b.source === 'pulse');
    const claim = await client.emitStatusClaim(input);
    expect(claim.beat_index).toBeGreaterThanOrEqual(beat.beat_index);
    expect(hlcTime(claim.hlc) > hlcTime(beat.hlc)).toBe(true);
    // The agent's own wall clock is 30 s behind the stamp: only the merge puts it after.
    expect(parseInt(claim.hlc.slice(0, 12), 16)).toBeGreaterThan(Date.now() + 20_000);
    await client.stop();
    await pulse.stop();
  });

  it('signs the exact bytes sent, with exactly the protocol headers', async () => {
    const cluster = 'st-signed';
    const key = generateSigningKey();
    const claims = collect(raw, statusSubject(cluster, 'signer'));
    await raw.flush();
    const client = makeClient({
      clusterId: cluster,
      agentId: 'signer',
      natsUrl: server.url,
      signingKey: key.secretKey,
      fallbackTempoBpm: 1200,
    });
    await client.start();
    await nextBeat(client);
    const claim = await client.emitStatusClaim({ ...input, taskId: 'task-1', waitFor: ['x'] });
    const [msg] = await claims.take(1);

    expect(JSON.parse(decoder.decode(msg.data))).toEqual(claim);
    expect(msg.subject).toBe(statusSubject(cluster, 'signer'));
    const headers = wireHeaders(msg);
    expect(headers).toEqual({
      'x-agent-id': ['signer'],
      'x-window-id': [claim.window_id],
      'x-hlc': [claim.hlc],
      'Nats-Msg-Id': [`signer:${claim.hlc}`],
      'x-signature': [expect.stringMatching(/^[A-Za-z0-9+/]{86}==$/) as string],
      'x-public-key': [encodeBase64(key.publicKey)],
    });
    const signature = decodeStrictBase64(headers['x-signature'][0], 64);
    expect(signature).not.toBeNull();
    expect(nacl.sign.detached.verify(msg.data, signature!, key.publicKey)).toBe(true);
    // …and not over any other bytes.
    const tampered = Uint8Array.from(msg.data);
    tampered[tampered.length - 2] ^= 1;
    expect(nacl.sign.detached.verify(tampered, signature!, key.publicKey)).toBe(false);
    expect(claim).toMatchObject({
      type: 'backbeat.statusclaim.v1',
      cluster_id: cluster,
      agent_id: 'signer',
      task_id: 'task-1',
      wait_for: ['x'],
      beats_left: 3,
      progress: 0.25,
      notes: 'ok',
    });
    await client.stop();
  });

  it('drops what is still buffered when stop() times out while disconnected', async () => {
    const own = await startNatsServer();
    const cluster = 'st-dropped';
    const client = makeClient({
      clusterId: cluster,
      agentId: 'a',
      natsUrl: own.url,
      fallbackTempoBpm: 1200,
      reconnectDelayMs: 50,
      maxReconnectDelayMs: 200,
    });
    await client.start();
    await nextBeat(client);
    const down = healthWhere(client, (health) => !health.connected);
    await own.kill();
    await down;
    const queued = await Promise.all(
      [1, 2, 3].map((n) => client.emitStatusClaim({ ...input, beatsLeft: n })),
    );
    expect(queued.map((claim) => claim.beats_left)).toEqual([1, 2, 3]);
    expect(client.metrics().status.buffered).toBe(3);
    await expect(client.stop({ timeoutMs: 50 })).resolves.toEqual({ dropped: 3 });
    expect(client.metrics().status.dropped).toBe(3);
    await own.stop();
  });

  it('emitStatus sends in order, completes after the last, and errors on invalid input', async () => {
    const cluster = 'st-operator';
    const claims = collect(raw, statusWildcard(cluster));
    await raw.flush();
    const client = makeClient({
      clusterId: cluster,
      agentId: 'a',
      natsUrl: server.url,
      fallbackTempoBpm: 1200,
    });
    await client.start();
    const inputs = [1, 2, 3].map((n) => ({ ...input, beatsLeft: n }));
    const sent = await lastValueFrom(from(inputs).pipe(client.emitStatus(), toArray()));
    expect(sent.map((claim) => claim.beats_left)).toEqual([1, 2, 3]);

    const partial: StatusClaim[] = [];
    const failed = await lastValueFrom(
      from([
        { ...input, beatsLeft: 4 },
        { ...input, progress: -1 },
        { ...input, beatsLeft: 6 },
      ]).pipe(
        client.emitStatus(),
        filter((claim) => partial.push(claim) > 0),
      ),
    ).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(StatusClaimValidationError);
    expect(partial.map((claim) => claim.beats_left)).toEqual([4]);

    // A sentinel and a round trip: nothing of the invalid input nor of what followed it went out.
    const sentinel = await client.emitStatusClaim({ ...input, beatsLeft: 99 });
    await client.flush();
    await raw.flush();
    expect(claims.messages.map((msg) => JSON.parse(decoder.decode(msg.data)) as unknown)).toEqual([
      ...sent,
      ...partial,
      sentinel,
    ]);
    await client.stop();
  });

  it("statusClaims$ judges other agents' claims, trusting their keys", async () => {
    const cluster = 'st-observe';
    const signerKey = generateSigningKey();
    const strangerKey = generateSigningKey();
    const start = async (agentId: string, signingKey?: Uint8Array): Promise<BackbeatClient> => {
      const client = makeClient({
        clusterId: cluster,
        agentId,
        natsUrl: server.url,
        fallbackTempoBpm: 1200,
        ...(signingKey ? { signingKey } : {}),
      });
      await client.start();
      return client;
    };
    const [observer, signer, stranger, unsigned] = await Promise.all([
      start('observer'),
      start('signer', signerKey.secretKey),
      start('stranger', strangerKey.secretKey),
      start('unsigned'),
    ]);
    const verdicts = firstValueFrom(
      observer
        .statusClaims$({ trustedKeys: { signer: signerKey.publicKey } })
        .pipe(take(3), toArray()),
    );
    // The subscription is made once the queued microtasks have run; the observer's round trip
    // then registers it with the server before any claim below is sent.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await observer.flush();
    const signed = await signer.emitStatusClaim({ ...input, notes: 'signed' });
    await stranger.emitStatusClaim({ ...input, notes: 'stranger' });
    await unsigned.emitStatusClaim({ ...input, notes: 'unsigned' });
    const judged = await verdicts;
    expect(judged).toHaveLength(3);
    expect(judged).toContainEqual({ ok: true, claim: signed });
    expect(judged).toContainEqual({
      ok: false,
      reason: 'untrusted-key',
      subject: statusSubject(cluster, 'stranger'),
    });
    expect(judged).toContainEqual({
      ok: false,
      reason: 'unsigned',
      subject: statusSubject(cluster, 'unsigned'),
    });
    await Promise.all([observer, signer, stranger, unsigned].map((client) => client.stop()));
  });
});
