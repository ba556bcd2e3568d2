/**
 * Many agents in one process: N clients following a 120 BPM pulse (2 beats a second), each
 * emitting a signed status claim on every beat, against N raw nats.js subscribers doing the same
 * work (parse the frame, sign a claim-sized payload with node:crypto, publish it with the claim
 * headers). One event loop serves every agent in turn, so beat latency grows with N on both
 * sides: the figure is their ratio.
 *
 * Four phases, one after the other on the same nats-server (never at the same time, so that the
 * sides do not compete): raw and SDK with a connection per agent, then raw and SDK with one
 * connection for all (SDK: the `connection` option). Each phase: set up the N agents on a running
 * pulse, wait until every agent has heard a beat, then measure for the duration.
 *
 * Figures per phase: beat latency (publish → frame parsed, raw; publish → `beat$`, SDK) over
 * every agent and beat; beats not delivered; for the SDK, synthetic and missed beats
 * (`metrics().beats`) and false degradations (`health$` `localDegradation` turning true) while
 * the pulse ran, and claims emitted / failed.
 * Goals: SDK p99 ≤ 1.2 × raw p99 and no missed beats or false degradations, both connection modes.
 *
 * Run: `npm run bench:agents`; AGENTS (default 500), AGENTS_SECONDS (default 30), NATS_URL;
 * BENCH_QUICK=1: 50 agents for 5 s.
 */
import { sign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { connect, headers as natsHeaders, type NatsConnection } from 'nats';
import { createClient, type BackbeatClient } from '../lib/client';
import { encodeBase64 } from '../lib/crypto/base64';
import { generateSigningKey, parseSigningKey, type SigningKey } from '../lib/crypto/keys';
import type { StatusClaimInput } from '../lib/protocol/status-claim';
import { beatSubject, statusSubject } from '../lib/protocol/subjects';
import { startPulse, type Pulse } from '../lib/pulse/pulse';
import { startNatsServer, stopAllNatsServers } from '../spec/support/nats-server';
import {
  log,
  printResult,
  sized,
  sleep,
  stampingConnection,
  summarize,
  type LatencySummary,
} from './support';

const TEMPO_BPM = 120;
const P99_RATIO_GOAL = 1.2;
/** Agents set up (connected, subscribed) at a time. */
const SET_UP_BATCH = 50;

const agentCount = Math.round(sized('AGENTS', 500, 50));
const seconds = sized('AGENTS_SECONDS', 30, 5);
const claimInput: StatusClaimInput = {
  state: 'executing',
  beatsLeft: 5,
  progress: 0.3,
  notes: 'Processing data',
  waitFor: ['job-1'],
};
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

type Mode = 'dedicated' | 'shared';

/** What the SDK side counts in the measurement window. */
interface SdkCounts {
  synthetic: number;
  missed: number;
  falseDegradations: number;
  claimsEmitted: number;
  claimsFailed: number;
}

/** One phase's agents, whichever side. */
interface Agents {
  /** Beats delivered to the agents in the window, by beat index: how many agents got it. */
  readonly delivered: Map<number, number>;
  /** Latencies (ms) in the window. */
  readonly latencies: number[];
  /** Whether the measurement window is open. */
  measuring: boolean;
  /** Agents that have heard at least one beat. */
  readonly ready: Set<number>;
  /** Opens the window (takes the baseline of any counters). */
  startMeasuring(): void;
  /** Claims sent in the window (raw), or the SDK's counts in the window. */
  counts(): { claimsEmitted: number } | SdkCounts;
  stop(): Promise<void>;
}

interface PhaseResult {
  side: 'raw' | 'sdk';
  mode: Mode;
  agents: number;
  seconds: number;
  beatsPublished: number;
  latency: LatencySummary;
  notDelivered: number;
  synthetic?: number;
  missed?: number;
  falseDegradations?: number;
  claimsEmitted: number;
  claimsFailed?: number;
}

const keys: SigningKey[] = Array.from({ length: agentCount }, () =>
  parseSigningKey(generateSigningKey().secretKey),
);

async function inBatches(count: number, setUp: (i: number) => Promise<void>): Promise<void> {
  for (let first = 0; first < count; first += SET_UP_BATCH) {
    const batch: Promise<void>[] = [];
    for (let i = first; i < Math.min(count, first + SET_UP_BATCH); i++) batch.push(setUp(i));
    await Promise.all(batch);
  }
}

function record(agents: Agents, agent: number, index: number, sentAt: Map<number, number>): void {
  agents.ready.add(agent);
  if (!agents.measuring) return;
  const sent = sentAt.get(index);
  if (sent !== undefined) agents.latencies.push(performance.now() - sent);
  agents.delivered.set(index, (agents.delivered.get(index) ?? 0) + 1);
}

/** The raw side: parse, sign with node:crypto, publish, per agent. */
async function rawAgents(
  url: string,
  clusterId: string,
  mode: Mode,
  sentAt: Map<number, number>,
): Promise<Agents> {
  const connections: NatsConnection[] = [];
  const shared = mode === 'shared' ? await connect({ servers: url, name: 'raw-shared' }) : null;
  if (shared) connections.push(shared);
  let claims = 0;
  const agents: Agents = {
    delivered: new Map(),
    latencies: [],
    measuring: false,
    ready: new Set(),
    startMeasuring: () => {
      agents.measuring = true;
    },
    counts: () => ({ claimsEmitted: claims }),
    stop: async () => {
      await Promise.all(connections.map((nc) => nc.close()));
    },
  };
  await inBatches(agentCount, async (i) => {
    const agentId = `raw-${i}`;
    const nc = shared ?? (await connect({ servers: url, name: agentId }));
    if (!shared) connections.push(nc);
    const keyObject = keys[i].privateKeyObject!;
    const publicKey = keys[i].publicKeyBase64;
    const subject = statusSubject(clusterId, agentId);
    let counter = 0;
    nc.subscribe(beatSubject(clusterId), {
      callback: (err, msg) => {
        if (err) return;
        const frame = JSON.parse(utf8Decoder.decode(msg.data)) as {
          beat_index: number;
          window_id: string;
        };
        record(agents, i, frame.beat_index, sentAt);
        counter = (counter + 1) % 0x10000;
        const hlc = `${Date.now().toString(16).padStart(12, '0')}:${counter.toString(16).padStart(4, '0')}:${agentId}`;
        const payload = utf8Encoder.encode(
          JSON.stringify({
            type: 'backbeat.statusclaim.v1',
            cluster_id: clusterId,
            agent_id: agentId,
            task_id: 'task-0123456789abcdef',
            beat_index: frame.beat_index,
            window_id: frame.window_id,
            state: 'executing',
            wait_for: ['job-1'],
            beats_left: 5,
            progress: 0.3,
            notes: 'Processing data',
            hlc,
          }),
        );
        const headers = natsHeaders();
        headers.set('x-agent-id', agentId);
        headers.set('x-window-id', frame.window_id);
        headers.set('x-hlc', hlc);
        headers.set('Nats-Msg-Id', `${agentId}:${hlc}`);
        headers.set('x-signature', encodeBase64(sign(null, payload, keyObject)));
        headers.set('x-public-key', publicKey);
        nc.publish(subject, payload, { headers });
        if (agents.measuring) claims++;
      },
    });
    await nc.flush();
  });
  return agents;
}

/** The SDK side: a client per agent, each emitting a claim on every beat. */
async function sdkAgents(
  url: string,
  clusterId: string,
  mode: Mode,
  sentAt: Map<number, number>,
): Promise<Agents> {
  const shared = mode === 'shared' ? await connect({ servers: url, name: 'sdk-shared' }) : null;
  const clients: BackbeatClient[] = [];
  let falseDegradations = 0;
  let claimsFailed = 0;
  const totals = () => {
    const sum = { synthetic: 0, missed: 0, emitted: 0 };
    for (const client of clients) {
      const { beats, status } = client.metrics();
      sum.synthetic += beats.synthetic;
      sum.missed += beats.missed;
      sum.emitted += status.emitted;
    }
    return sum;
  };
  let baseline = totals();
  const agents: Agents = {
    delivered: new Map(),
    latencies: [],
    measuring: false,
    ready: new Set(),
    startMeasuring: () => {
      baseline = totals();
      agents.measuring = true;
    },
    counts: (): SdkCounts => {
      const now = totals();
      return {
        synthetic: now.synthetic - baseline.synthetic,
        missed: now.missed - baseline.missed,
        falseDegradations,
        claimsEmitted: now.emitted - baseline.emitted,
        claimsFailed,
      };
    },
    stop: async () => {
      await Promise.all(clients.map((client) => client.stop({ timeoutMs: 2000 })));
      await shared?.close();
    },
  };
  await inBatches(agentCount, async (i) => {
    const client = createClient({
      clusterId,
      agentId: `sdk-${i}`,
      signingKey: keys[i].secretKey,
      ...(shared ? { connection: shared } : { natsUrl: url }),
    });
    clients.push(client);
    client.beat$.subscribe((beat) => {
      if (beat.source === 'pulse') record(agents, i, beat.beat_index, sentAt);
      client.emitStatusClaim(claimInput).catch(() => {
        if (agents.measuring) claimsFailed++;
      });
    });
    let degraded = false;
    client.health$.subscribe((health) => {
      if (health.localDegradation && !degraded && agents.measuring) falseDegradations++;
      degraded = health.localDegradation;
    });
    await client.start();
  });
  return agents;
}

/** Sets up one side's agents on a running pulse, measures for `seconds`, tears them down. */
async function phase(url: string, side: 'raw' | 'sdk', mode: Mode): Promise<PhaseResult> {
  const clusterId = `agents-${side}-${mode}`;
  const sentAt = new Map<number, number>();
  const pulseConnection = await connect({ servers: url, name: 'pulse' });
  const pulse: Pulse = await startPulse({
    connection: stampingConnection(pulseConnection, sentAt),
    clusterId,
    pulseId: 'bench-pulse',
    tempoBpm: TEMPO_BPM,
  });
  const setUpStarted = performance.now();
  const agents =
    side === 'raw'
      ? await rawAgents(url, clusterId, mode, sentAt)
      : await sdkAgents(url, clusterId, mode, sentAt);
  while (agents.ready.size < agentCount) await sleep(50);
  log(
    `${side} ${mode}: ${agentCount} agents ready in ${Math.round(performance.now() - setUpStarted)} ms; measuring ${seconds} s`,
  );
  const firstIndex = pulse.beatIndex() + 1;
  agents.startMeasuring();
  await sleep(seconds * 1000);
  const lastIndex = pulse.beatIndex();
  // Let the last beat reach every agent before the window closes.
  await sleep(Math.min(2000, 60000 / TEMPO_BPM));
  agents.measuring = false;
  const counts = agents.counts();
  await pulse.stop();
  await agents.stop();
  await pulseConnection.close();

  let notDelivered = 0;
  for (let index = firstIndex; index <= lastIndex; index++) {
    notDelivered += agentCount - (agents.delivered.get(index) ?? 0);
  }
  const latency = summarize(agents.latencies);
  log(
    `${side} ${mode}: p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, not delivered ${notDelivered}, ${JSON.stringify(counts)}`,
  );
  return {
    side,
    mode,
    agents: agentCount,
    seconds,
    beatsPublished: lastIndex - firstIndex + 1,
    latency,
    notDelivered,
    ...counts,
  };
}

function compare(raw: PhaseResult, sdk: PhaseResult) {
  const p99Ratio = Math.round((sdk.latency.p99Ms / raw.latency.p99Ms) * 100) / 100;
  const p50Ratio = Math.round((sdk.latency.p50Ms / raw.latency.p50Ms) * 100) / 100;
  const clean =
    sdk.notDelivered === 0 &&
    sdk.synthetic === 0 &&
    sdk.missed === 0 &&
    sdk.falseDegradations === 0 &&
    sdk.claimsFailed === 0;
  return {
    raw,
    sdk,
    p50Ratio,
    p99Ratio,
    goals: {
      p99RatioAtMost: P99_RATIO_GOAL,
      noMissedBeats: clean,
      met: clean && p99Ratio <= P99_RATIO_GOAL,
    },
  };
}

async function main(): Promise<void> {
  const server = process.env.NATS_URL ? null : await startNatsServer();
  const url = process.env.NATS_URL ?? server!.url;
  try {
    const dedicated = compare(
      await phase(url, 'raw', 'dedicated'),
      await phase(url, 'sdk', 'dedicated'),
    );
    const shared = compare(await phase(url, 'raw', 'shared'), await phase(url, 'sdk', 'shared'));
    printResult({
      bench: 'agents',
      node: process.version,
      server: server ? 'started by the bench' : 'NATS_URL',
      agents: agentCount,
      seconds,
      tempoBpm: TEMPO_BPM,
      dedicated,
      shared,
      goals: { met: dedicated.goals.met && shared.goals.met },
    });
  } finally {
    await stopAllNatsServers();
  }
}

void main();
