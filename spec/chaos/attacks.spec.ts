/**
 * Attacks over a real nats-server. An attacker connection sniffs agents' claims and publishes
 * forged, altered and replayed ones; an observer's `client.statusClaims$({ trustedKeys })` must
 * give each the right reason. Then the README's permissions block, loaded from README.md itself,
 * must pin each agent to its own subject, keep agents off the beat subject, and still let a
 * JetStream agent start and have its claims acknowledged.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  connect,
  ErrorCode,
  Events,
  headers as natsHeaders,
  type Msg,
  type NatsConnection,
  type Status,
} from 'nats';
import type { Subscription } from 'rxjs';
import { makeDefaultTaskId } from '../../lib/claims/default-task-id';
import { sealClaim } from '../../lib/claims/seal-claim';
import { formatHlc } from '../../lib/clock/hlc';
import { generateSigningKey, parseSigningKey } from '../../lib/crypto/keys';
import { createClient, type BackbeatClient } from '../../lib/client';
import type { StatusVerdict } from '../../lib/operators/verify-status';
import { statusSubject, statusWildcard } from '../../lib/protocol/subjects';
import { windowIdFor } from '../../lib/protocol/windows';
import { startPulse, type Pulse } from '../../lib/pulse/pulse';
import { ensureStatusStream } from '../../lib/transport/ensure-status-stream';
import { toMsgHdrs } from '../../lib/transport/msg-headers';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';
import { collect, nextBeat } from '../client/client-support';
import { editedHeaders, macrotask, parsed, readStatusStream } from './chaos-support';

const encoder = new TextEncoder();

/** Verdicts of a `statusClaims$` subscription, taken one at a time in arrival order. */
function verdictQueue(client: BackbeatClient, trustedKeys: Record<string, Uint8Array>) {
  const queued: StatusVerdict[] = [];
  const waiting: ((verdict: StatusVerdict) => void)[] = [];
  const subscription: Subscription = client.statusClaims$({ trustedKeys }).subscribe((verdict) => {
    const waiter = waiting.shift();
    if (waiter) waiter(verdict);
    else queued.push(verdict);
  });
  return {
    next: (): Promise<StatusVerdict> =>
      queued.length > 0
        ? Promise.resolve(queued.shift()!)
        : new Promise((resolve) => waiting.push(resolve)),
    pending: () => queued.length,
    stop: () => subscription.unsubscribe(),
  };
}

/** A claim of `agentId` sealed by hand: stamped `physicalMs`, signed with `secretKey`. */
function forgedClaim(
  clusterId: string,
  agentId: string,
  physicalMs: number,
  secretKey: Uint8Array,
) {
  return sealClaim(
    { state: 'done', beatsLeft: 0, progress: 1, notes: 'forged' },
    {
      clusterId,
      agentId,
      defaultTaskId: makeDefaultTaskId(),
      beat: { beat_index: 7, window_id: windowIdFor(clusterId, 7) },
      hlc: formatHlc(physicalMs, 0, agentId),
      signingKey: parseSigningKey(secretKey),
    },
  );
}

describe('attacks over NATS, judged by client.statusClaims$', () => {
  const cluster = 'chaos-attacks';
  let server: NatsServerHandle;
  let pulse: Pulse;
  let attacker: NatsConnection;
  let observer: BackbeatClient;
  let agentA: BackbeatClient;
  let agentB: BackbeatClient;
  const keyA = generateSigningKey();
  const keyB = generateSigningKey();
  const keyEvil = generateSigningKey();

  beforeAll(async () => {
    server = await startNatsServer();
    pulse = await startPulse({ natsUrl: server.url, clusterId: cluster, tempoBpm: 600 });
    // noEcho: the attacker's sniffer sees the agents' claims, not its own forgeries.
    attacker = await connect({ servers: server.url, noEcho: true });
    const common = { clusterId: cluster, natsUrl: server.url };
    observer = createClient({ ...common, agentId: 'observer' });
    agentA = createClient({ ...common, agentId: 'agent-a', signingKey: keyA.secretKey });
    agentB = createClient({ ...common, agentId: 'agent-b', signingKey: keyB.secretKey });
    await Promise.all([observer.start(), agentA.start(), agentB.start()]);
  });

  afterAll(async () => {
    await Promise.all([observer.stop(), agentA.stop(), agentB.stop()]);
    await pulse.stop();
    await attacker.close();
    await server.stop();
  });

  it('gives each forged, altered or replayed claim its reason, and genuine ones pass', async () => {
    const verdicts = verdictQueue(observer, {
      'agent-a': keyA.publicKey,
      'agent-b': keyB.publicKey,
    });
    // The attacker sniffs every claim of the cluster.
    const sniffed = collect(attacker, statusWildcard(cluster));
    await macrotask();
    await Promise.all([observer.flush(), attacker.flush()]);

    const subjectA = statusSubject(cluster, 'agent-a');
    const publish = (data: Uint8Array, headers = natsHeaders(), subject = subjectA) =>
      attacker.publish(subject, data, { headers });
    const expectReason = async (reason: string) =>
      expect(await verdicts.next()).toEqual({ ok: false, reason, subject: subjectA });

    // Genuine claim 1 of agent-a, sniffed on the wire.
    const claim1 = await agentA.emitStatusClaim({
      state: 'executing',
      beatsLeft: 5,
      progress: 0.3,
    });
    expect(await verdicts.next()).toEqual({ ok: true, claim: claim1 });
    const [m1] = await sniffed.take(1);

    // Tampered: one payload byte changed after signing (progress 0.3 → 0.9), headers intact.
    const text = new TextDecoder().decode(m1.data);
    expect(text).toContain('"progress":0.3');
    publish(encoder.encode(text.replace('"progress":0.3', '"progress":0.9')), editedHeaders(m1));
    await expectReason('bad-signature');

    // Foreign key: a well-formed claim of agent-a signed by the attacker's own key.
    const foreign = forgedClaim(cluster, 'agent-a', Date.now(), keyEvil.secretKey);
    publish(foreign.payload, toMsgHdrs(foreign.headers));
    await expectReason('untrusted-key');

    // Subject spoofing: agent-b's genuine claim re-published on agent-a's subject.
    const claimB = await agentB.emitStatusClaim({ state: 'waiting', beatsLeft: 3, progress: 0 });
    expect(await verdicts.next()).toEqual({ ok: true, claim: claimB });
    const [, mB] = await sniffed.take(2);
    expect(mB.subject).toBe(statusSubject(cluster, 'agent-b'));
    publish(mB.data, editedHeaders(mB));
    await expectReason('subject-mismatch');

    // Header mismatch: each routing header changed in turn, the signed payload untouched.
    for (const [name, value] of [
      ['x-agent-id', 'agent-b'],
      ['x-window-id', windowIdFor(cluster, 999_999)],
      ['x-hlc', formatHlc(Date.now(), 0, 'agent-a')],
    ]) {
      publish(m1.data, editedHeaders(m1, { [name]: value }));
      await expectReason('header-mismatch');
    }
    // A routing header given twice is a mismatch too.
    const doubled = editedHeaders(m1);
    doubled.append('x-hlc', claim1.hlc);
    publish(m1.data, doubled);
    await expectReason('header-mismatch');

    // Unsigned: the signature headers stripped (no downgrade for an agent with a trusted key).
    publish(m1.data, editedHeaders(m1, { 'x-signature': undefined, 'x-public-key': undefined }));
    await expectReason('unsigned');

    // Stale and skewed: agent-a's key, stamps ten minutes old and two minutes ahead.
    const stale = forgedClaim(cluster, 'agent-a', Date.now() - 600_000, keyA.secretKey);
    publish(stale.payload, toMsgHdrs(stale.headers));
    await expectReason('stale');
    const skewed = forgedClaim(cluster, 'agent-a', Date.now() + 120_000, keyA.secretKey);
    publish(skewed.payload, toMsgHdrs(skewed.headers));
    await expectReason('clock-skew');

    // Replay: after genuine claim 2, the sniffed claim 1 again, byte for byte; then claim 2
    // again, a harmless redelivery.
    const claim2 = await agentA.emitStatusClaim({ state: 'review', beatsLeft: 1, progress: 0.9 });
    expect(await verdicts.next()).toEqual({ ok: true, claim: claim2 });
    const [, , m2] = await sniffed.take(3);
    expect(parsed(m2.data).hlc).toBe(claim2.hlc);
    publish(m1.data, editedHeaders(m1));
    await expectReason('replay');
    publish(m2.data, editedHeaders(m2));
    await expectReason('duplicate');

    // Nothing else came: every message got exactly one verdict.
    expect(verdicts.pending()).toBe(0);
    verdicts.stop();
  });
});

/** The conf block of README.md's Security section, passwords filled in, plus an admin user. */
function readmePermissions(): { config: string; password: (user: string) => string } {
  const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
  const security = readme.slice(readme.indexOf('## Security'));
  const block = /```conf\n([\s\S]*?)```/.exec(security);
  if (!block) throw new Error('README.md has no conf block in its Security section');
  const password = (user: string) => `${user}-secret`;
  const config = block[1]
    .replace(/user: ([\w-]+), password: "…"/g, (_all, user: string) => {
      return `user: ${user}, password: "${password(user)}"`;
    })
    // Creating the stream is an administrator's job: one user with every permission.
    .replace(/users: \[/, `users: [\n    { user: admin, password: "${password('admin')}" }`);
  if (config.includes('…')) throw new Error(`a password was left unfilled:\n${config}`);
  return { config, password };
}

/** Resolves with the next permissions violation the connection reports (call before causing it). */
function nextPermissionError(nc: NatsConnection): Promise<{ operation: string; subject: string }> {
  const feed = nc.status();
  return (async () => {
    for await (const status of feed as AsyncIterable<Status & { permissionContext?: never }>) {
      const context = (status as { permissionContext?: { operation: string; subject: string } })
        .permissionContext;
      if (status.type === Events.Error && context) return context;
    }
    throw new Error('the connection closed without a permissions error');
  })();
}

describe("README's permissions block on a real nats-server", () => {
  const cluster = 'chorus-dev'; // the block names this cluster
  const { config, password } = readmePermissions();
  let server: NatsServerHandle;
  const open: NatsConnection[] = [];
  const clients: BackbeatClient[] = [];
  let pulse: Pulse | undefined;

  const dial = async (user: string, inboxPrefix?: string) => {
    const nc = await connect({
      servers: server.url,
      user,
      pass: password(user),
      ...(inboxPrefix === undefined ? {} : { inboxPrefix }),
    });
    open.push(nc);
    return nc;
  };

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true, config });
    await ensureStatusStream(await dial('admin'), cluster);
    pulse = await startPulse({
      connection: await dial('pulse', '_INBOX_pulse'),
      clusterId: cluster,
      tempoBpm: 600,
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.stop()));
    await pulse?.stop();
    await Promise.all(open.map((nc) => nc.close()));
    await server.stop();
  });

  const agentConfig = (user: string) => ({
    clusterId: cluster,
    agentId: user,
    natsUrl: server.url,
    natsOptions: { user, pass: password(user), inboxPrefix: `_INBOX_${user}` },
  });

  it('lets a JetStream agent start, follow the pulse and have its claims acknowledged and stored', async () => {
    const key = generateSigningKey();
    const agent = createClient({
      ...agentConfig('agent-a'),
      statusDelivery: 'jetstream',
      signingKey: key.secretKey,
    });
    clients.push(agent);
    const pulseBeat = nextBeat(agent, (beat) => beat.source === 'pulse');
    await agent.start();
    await pulseBeat;
    const claim = await agent.emitStatusClaim({ state: 'executing', beatsLeft: 2, progress: 0.5 });
    expect(agent.metrics().status).toMatchObject({ emitted: 1, errors: 0, dropped: 0 });
    expect(agent.metrics().errors.total).toBe(0);
    expect(agent.health()).toMatchObject({ connected: true, reason: null });

    const stored = await readStatusStream(await dial('admin'), cluster);
    expect(stored.map((m) => parsed(m.data))).toEqual([claim]);
    expect(stored[0].headers?.get('Nats-Msg-Id')).toBe(`agent-a:${claim.hlc}`);
  });

  it('lets an observer client read the last stored claims and new ones', async () => {
    const observer = createClient(agentConfig('observer'));
    clients.push(observer);
    await observer.start();
    // The observer is a full client: it follows the beat like any other, so it must be allowed
    // to subscribe to the beat subject (checked first: it is told by the time start() resolves).
    expect(observer.health()).toMatchObject({ connected: true, reason: null });
    const first = await new Promise<StatusVerdict>((resolve, reject) => {
      const sub = observer
        .statusClaims$({ requireSignature: false, deliver: 'last-per-agent' })
        .subscribe({
          next: (verdict) => {
            sub.unsubscribe();
            resolve(verdict);
          },
          error: reject,
        });
    });
    expect(first).toMatchObject({ ok: true, claim: { agent_id: 'agent-a' } });
    await nextBeat(observer, (beat) => beat.source === 'pulse');
    expect(observer.metrics().errors.total).toBe(0);
    expect(observer.health()).toMatchObject({
      connected: true,
      localDegradation: false,
      reason: null,
    });
  });

  it("refuses an agent's publish to another agent's subject: a permissions error, never delivered", async () => {
    const watcher = await dial('admin');
    const onB = collect(watcher, statusSubject(cluster, 'agent-b'));
    const onA = collect(watcher, statusSubject(cluster, 'agent-a'));
    await watcher.flush();

    // agent-a's credentials, used by hand: a forged claim of agent-b on agent-b's subject.
    const evil = await dial('agent-a', '_INBOX_agent-a');
    const refused = nextPermissionError(evil);
    const forged = forgedClaim(cluster, 'agent-b', Date.now(), generateSigningKey().secretKey);
    evil.publish(forged.subject, forged.payload, { headers: toMsgHdrs(forged.headers) });
    await expect(refused).resolves.toEqual({ operation: 'publish', subject: forged.subject });

    // Then a marker on its own subject, from the same connection: it arrives, so whatever the
    // server had taken before it would have arrived first.
    evil.publish(statusSubject(cluster, 'agent-a'), encoder.encode('marker'));
    const [marker] = await onA.take(1);
    expect(new TextDecoder().decode(marker.data)).toBe('marker');
    expect(onB.messages).toHaveLength(0);

    // Nor may an agent publish beats: only the pulse does.
    const beatRefused = nextPermissionError(evil);
    evil.publish(`backbeat.${cluster}.beat`, encoder.encode('{}'));
    await expect(beatRefused).resolves.toEqual({
      operation: 'publish',
      subject: `backbeat.${cluster}.beat`,
    });
  });

  it("keeps an agent out of another agent's inboxes", async () => {
    const evil = await dial('agent-a', '_INBOX_agent-a');
    const refused = nextPermissionError(evil);
    const sub = evil.subscribe('_INBOX_agent-b.>');
    await expect(refused).resolves.toEqual({
      operation: 'subscription',
      subject: '_INBOX_agent-b.>',
    });
    const outcome = (async () => {
      for await (const _ of sub as AsyncIterable<Msg>) return 'message';
      return 'closed';
    })();
    await expect(outcome).rejects.toMatchObject({ code: ErrorCode.PermissionsViolation });
  });
});
