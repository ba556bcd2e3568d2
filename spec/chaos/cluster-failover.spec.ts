/**
 * Beyond one machine: a three-node nats-server cluster with JetStream on the loopback, the status
 * stream replicated three times, the pulse on node 1 only, and a JetStream agent given nodes 2
 * and 3. The node the agent is connected to is killed under it, twice (restarted in between):
 * the agent must fail over by itself, keep following the pulse with no synthetic beat, and have
 * every claim stored exactly once.
 *
 * Timing: 120 BPM (a 500 ms period) and a 1500 ms tolerance put the degradation point 2 s after
 * the last beat. A failover on the loopback is a reconnect to the other node (the backoff's
 * 50-250 ms) plus the beat subscription's interest reaching node 1 over the route: well inside
 * 2 s. The claims meanwhile wait for a new stream leader, retried until acknowledged.
 */
import type { NatsConnection } from 'nats';
import { createClient, type BackbeatClient } from '../../lib/client';
import type { ClientParts } from '../../lib/client-parts';
import type { HealthStatus } from '../../lib/observability/health';
import type { StatusClaim } from '../../lib/protocol/status-claim';
import { statusStreamName } from '../../lib/protocol/subjects';
import { startPulse, type Pulse } from '../../lib/pulse/pulse';
import { ensureStatusStream } from '../../lib/transport/ensure-status-stream';
import { startNatsCluster, type NatsClusterHandle } from '../support/nats-server';
import { healthWhere, rawConnection } from '../client/client-support';
import {
  Counter,
  logBeats,
  parsed,
  pollServer,
  readStatusStream,
  reportFigures,
  timelineViolations,
} from './chaos-support';

const CLUSTER = 'chaos-cluster';
const TEMPO_BPM = 120;
const TOLERANCE_MS = 1500;
const KILLS = 2;

/** The port of the node the client's own connection is on (a test-only look inside). */
function connectedPort(client: BackbeatClient): number | undefined {
  const { link } = (client as unknown as { parts: ClientParts }).parts.connection;
  return link?.connection?.info?.port;
}

describe('a JetStream agent failing over in a three-node cluster', () => {
  let cluster: NatsClusterHandle;
  let admin: NatsConnection;
  let pulse: Pulse;
  let agent: BackbeatClient;

  afterAll(async () => {
    await agent?.stop({ timeoutMs: 0 });
    await pulse?.stop();
    await admin?.close();
    await cluster?.stop();
  });

  it('follows the pulse through two node crashes without degrading, every claim stored once', async () => {
    cluster = await startNatsCluster({ size: 3, jetstream: true });
    const [url1, url2, url3] = cluster.urls;
    admin = await rawConnection(cluster.urls);
    await ensureStatusStream(admin, CLUSTER, { replicas: 3 });
    const info = await (await admin.jetstreamManager()).streams.info(statusStreamName(CLUSTER));
    expect(info.config.num_replicas).toBe(3);

    pulse = await startPulse({ natsUrl: url1, clusterId: CLUSTER, tempoBpm: TEMPO_BPM });
    agent = createClient({
      clusterId: CLUSTER,
      agentId: 'roamer',
      natsUrl: [url2, url3],
      statusDelivery: 'jetstream',
      statusBufferSize: 4096,
      jitterToleranceMs: TOLERANCE_MS,
      reconnectDelayMs: 50,
      maxReconnectDelayMs: 250,
      // Nodes 2 and 3 only: node 1, which the servers gossip, is the pulse's.
      natsOptions: { ignoreClusterUpdates: true },
    });
    const log = logBeats(agent.beat$);
    const healths: HealthStatus[] = [];
    agent.health$.subscribe((health) => healths.push(health));
    const acknowledged = new Counter();
    const failures: unknown[] = [];
    const sent: Promise<StatusClaim>[] = [];
    // A claim on every beat, and a burst of ten more on each downbeat.
    const emitting = agent.onBeat((beat) => {
      const burst = beat.downbeat ? 11 : 1;
      for (let i = 0; i < burst; i++) {
        const claim = agent.emitStatusClaim({ state: 'executing', beatsLeft: i, progress: 0.5 });
        claim.then(
          () => acknowledged.add(),
          (error: unknown) => failures.push(error),
        );
        sent.push(claim);
      }
    });

    const firstPulseBeat = log.next((beat) => beat.source === 'pulse');
    await agent.start();
    await firstPulseBeat;

    const ports = [url2, url3].map((url) => Number(new URL(url).port));
    const killed: number[] = [];
    for (let kill = 1; kill <= KILLS; kill++) {
      await log.next((beat) => beat.source === 'pulse');
      const port = connectedPort(agent);
      expect(ports).toContain(port);
      const node = cluster.servers.find((server) => server.port === port)!;
      await node.kill();
      killed.push(port!);
      await healthWhere(agent, (h) => h.connected && h.reconnectCount === kill);
      expect(connectedPort(agent)).toBe(ports.find((p) => p !== port));
      // Back on the pulse through the other node, then a few more beats and their claims.
      const before = sent.length;
      for (let beats = 0; beats < 4; beats++) await log.next((b) => b.source === 'pulse');
      await acknowledged.reach(before);
      await node.restart();
      await pollServer(`node ${port} back in the cluster`, async () => {
        const jsm = await admin.jetstreamManager();
        const { cluster: state } = await jsm.streams.info(statusStreamName(CLUSTER));
        return state?.replicas?.length === 2 && state.replicas.every((r) => r.current);
      });
    }
    expect(new Set(killed).size).toBe(KILLS);

    // The beats go on: stop claiming, so that the stream is read after the last claim.
    emitting.unsubscribe();
    const claims = await Promise.all(sent);
    expect(failures).toEqual([]);
    const metrics = agent.metrics();
    expect(metrics.connection.reconnects).toBe(KILLS);
    // No false degradation: not one synthetic beat, never degraded.
    expect(metrics.beats.synthetic).toBe(0);
    expect(healths.some((health) => health.localDegradation)).toBe(false);
    expect(log.beats.every((beat) => beat.source === 'pulse')).toBe(true);
    expect(timelineViolations(log.beats)).toEqual([]);
    expect(metrics.status).toMatchObject({ dropped: 0, buffered: 0, emitted: claims.length });

    const stored = await readStatusStream(admin, CLUSTER);
    expect(stored).toHaveLength(claims.length);
    expect(new Set(stored.map((m) => m.headers?.get('Nats-Msg-Id'))).size).toBe(claims.length);
    expect(stored.map((m) => parsed(m.data))).toEqual(claims);
    reportFigures('cluster-failover', {
      killedPorts: killed,
      claims: claims.length,
      beats: log.beats.length,
      missed: metrics.beats.missed,
      retries: metrics.status.retries,
      statusErrors: metrics.status.errors,
    });
  });
});
