/**
 * A partition that keeps both sockets open (the TCP proxy of spec/support stops forwarding and
 * holds the bytes): synthetic beats on time, the link declared dead within the ping limit,
 * failover to the second server of `natsUrl`, claims at an observer absent or in order, and
 * `stop({ timeoutMs: 1000 })` during a partition on time.
 */
import type { Msg, NatsConnection } from 'nats';
import { from, lastValueFrom, toArray } from 'rxjs';
import { createClient, type BackbeatClient } from '../../lib/client';
import { verifyStatus, type StatusVerdict } from '../../lib/operators/verify-status';
import { statusSubject } from '../../lib/protocol/subjects';
import { startPulse, type Pulse } from '../../lib/pulse/pulse';
import { startNatsCluster, type NatsClusterHandle } from '../support/nats-server';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { collect, healthWhere, rawConnection } from '../client/client-support';
import { logBeats, reportFigures, timelineViolations } from './chaos-support';

const CLUSTER = 'chaos-partition';
const TEMPO_BPM = 60; // the tempo: a 1 s period
const PERIOD_MS = 60_000 / TEMPO_BPM;
const TOLERANCE_MS = 100;
/** The config defaults: a silent link is declared dead within (2 + 1) × 3000 ms. */
const DEAD_LINK_LIMIT_MS = 10_000;
/** Event-loop slack on top of the engine's period + tolerance (a loaded 2-core machine). */
const SCHEDULING_SLACK_MS = 250;

/** Verdicts of every claim the observer saw, in arrival order, counted by reason. */
async function verdicts(messages: readonly Msg[]): Promise<Record<string, number>> {
  const all: StatusVerdict[] = await lastValueFrom(
    from(messages).pipe(verifyStatus({ requireSignature: false }), toArray()),
  );
  const counts: Record<string, number> = {};
  for (const verdict of all) {
    const key = verdict.ok ? 'ok' : verdict.reason;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

describe('a partition with both sockets held open', () => {
  let cluster: NatsClusterHandle;
  let proxy: TcpProxy;
  let pulse: Pulse;
  let observer: NatsConnection;
  const clients: BackbeatClient[] = [];

  beforeAll(async () => {
    cluster = await startNatsCluster({ size: 2 });
    pulse = await startPulse({
      natsUrl: cluster.urls[1],
      clusterId: CLUSTER,
      tempoBpm: TEMPO_BPM,
    });
    // The observer reads the server the client fails over to: held claims, if any were ever
    // delivered through the first server, would reach it over the route.
    observer = await rawConnection(cluster.urls[1]);
  });

  beforeEach(async () => {
    proxy = await startTcpProxy({ targetPort: cluster.servers[0].port });
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) await client.stop({ timeoutMs: 0 });
    await proxy.close();
  });

  afterAll(async () => {
    await pulse?.stop();
    await observer?.close();
    await cluster?.stop();
  });

  function makeClient(agentId: string): BackbeatClient {
    const client = createClient({
      clusterId: CLUSTER,
      agentId,
      // The proxied server first, in that order: the client starts behind the proxy.
      natsUrl: [proxy.url, cluster.urls[1]],
      natsOptions: { noRandomize: true },
      jitterToleranceMs: TOLERANCE_MS,
      reconnectDelayMs: 100,
      maxReconnectDelayMs: 500,
    });
    clients.push(client);
    return client;
  }

  it('degrades on time, declares the link dead, fails over, and no claim arrives out of order', async () => {
    const client = makeClient('partitioned');
    const claims = collect(observer, statusSubject(CLUSTER, 'partitioned'));
    await observer.flush();
    const log = logBeats(client.beat$);
    const firstPulseBeat = log.next((beat) => beat.source === 'pulse');
    await client.start();
    await firstPulseBeat;
    expect(proxy.connections).toBe(1);

    let sent = 0;
    const refused: unknown[] = [];
    const emitter = setInterval(() => {
      client.emitStatusClaim({ state: 'executing', beatsLeft: 1, progress: 0.5 }).then(
        () => sent++,
        (error: unknown) => refused.push(error),
      );
    }, 100);
    try {
      await log.next((beat) => beat.source === 'pulse');
      const lastPulseBeat = log.beats[log.beats.length - 1];
      const firstSynthetic = log.next((beat) => beat.source === 'synthetic');
      const dead = healthWhere(client, (health) => !health.connected);
      const partitionedAt = performance.now();
      proxy.partition();

      const synthetic = await firstSynthetic;
      const degradedAfterMs = synthetic.receivedAtMs - lastPulseBeat.receivedAtMs;
      const deadHealth = await dead;
      const deadAfterMs = performance.now() - partitionedAt;
      const failedOver = healthWhere(client, (h) => h.connected && h.reconnectCount >= 1);
      await failedOver;
      const failedOverAfterMs = performance.now() - partitionedAt;
      const backOnPulse = await log.next((beat) => beat.source === 'pulse');
      const backOnPulseAfterMs = performance.now() - partitionedAt;

      // A few more claims over the new link, then the partition heals: whatever the first link
      // held must not reach the observer after them.
      const sentBeforeHeal = sent;
      await log.next((beat) => beat.index >= backOnPulse.index + 2);
      proxy.heal();
      await proxy.waitForConnections((count) => count === 0);
      clearInterval(emitter);
      await client.flush();
      await observer.flush();

      const counts = await verdicts(claims.messages);
      const figures = {
        degradedAfterMs: Math.round(degradedAfterMs),
        deadAfterMs: Math.round(deadAfterMs),
        failedOverAfterMs: Math.round(failedOverAfterMs),
        backOnPulseAfterMs: Math.round(backOnPulseAfterMs),
        reasonWhileDown: deadHealth.reason,
        claimsSent: sent,
        claimsSentBeforeHeal: sentBeforeHeal,
        claimsRefusedBySdk: refused.length,
        claimsArrived: claims.messages.length,
        verdicts: counts,
        statusMetrics: client.metrics().status,
      };
      reportFigures('partition-failover', figures);

      expect(degradedAfterMs).toBeLessThanOrEqual(PERIOD_MS + TOLERANCE_MS + SCHEDULING_SLACK_MS);
      expect(deadAfterMs).toBeLessThanOrEqual(DEAD_LINK_LIMIT_MS);
      expect(deadHealth.reason).toMatch(/NATS link silent: no answer to 2 pings/);
      expect(refused).toEqual([]);
      // At most once, never out of order: some claims may be missing, none is refused.
      expect(counts.replay ?? 0).toBe(0);
      expect(counts.duplicate ?? 0).toBe(0);
      expect(counts.ok).toBe(claims.messages.length);
      expect(claims.messages.length).toBeLessThanOrEqual(sent);
      expect(claims.messages.length).toBeGreaterThan(0);
      expect(timelineViolations(log.beats)).toEqual([]);
    } finally {
      clearInterval(emitter);
      log.stop();
    }
  });

  it('stop({ timeoutMs: 1000 }) during the partition resolves within 1.2 s and drops what it could not flush', async () => {
    const client = makeClient('stopped-in-partition');
    const claims = collect(observer, statusSubject(CLUSTER, 'stopped-in-partition'));
    await observer.flush();
    const log = logBeats(client.beat$);
    const firstPulseBeat = log.next((beat) => beat.source === 'pulse');
    await client.start();
    await firstPulseBeat;
    await client.emitStatusClaim({ state: 'executing', beatsLeft: 2, progress: 0.1 });
    await client.flush();
    await observer.flush();
    const arrivedBefore = claims.messages.length;

    proxy.partition();
    const during = 5;
    for (let i = 0; i < during; i++) {
      await client.emitStatusClaim({ state: 'executing', beatsLeft: 1, progress: 0.2 + i / 10 });
    }
    const startedAt = performance.now();
    const { dropped } = await client.stop({ timeoutMs: 1000 });
    const stopMs = performance.now() - startedAt;

    proxy.heal();
    await proxy.waitForConnections((count) => count === 0);
    await observer.flush();
    reportFigures('stop-in-partition', {
      stopMs: Math.round(stopMs),
      dropped,
      claimsDuringPartition: during,
      arrivedAfterHeal: claims.messages.length - arrivedBefore,
    });
    log.stop();

    expect(stopMs).toBeLessThanOrEqual(1200);
    expect(dropped).toBe(during);
    // Counted as dropped, and the abortive close made sure of it: none arrives after the heal.
    expect(claims.messages.length).toBe(arrivedBefore);
  });
});
