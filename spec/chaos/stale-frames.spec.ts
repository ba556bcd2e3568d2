/**
 * Frames that come late in a burst are news of the past (docs/protocol.md section 9, stale frames):
 * - a partition between client and server that holds the socket open (the suite's TCP proxy)
 *   then heals: the frames it held arrive together;
 * - a subscriber that blocks the event loop for 3 s at 600 BPM: 30 frames queue in the socket.
 * Either way, with a beat budget pending across it: no index twice, no timeline reset, the
 * budget expires on its own beat and never early, and the client follows the pulse again.
 */
import { NEVER } from 'rxjs';
import { createClient, type BackbeatClient } from '../../lib/client';
import { BeatBudgetExceededError } from '../../lib/errors';
import { withinBeats } from '../../lib/operators/within-beats';
import { startPulse, type Pulse } from '../../lib/pulse/pulse';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { logBeats, reportFigures, timelineViolations, type BeatLog } from './chaos-support';
import { startPulseProcess, type PulseProcess } from './pulse-child';

const TEMPO_BPM = 600;
const PERIOD_MS = 60_000 / TEMPO_BPM;
const BUDGET_BEATS = 50;
/**
 * A lower bound of a 50-beat budget's life: 40 periods. Frames held through the partition once
 * expired such a budget 0.31 s after it started; the margin absorbs a beat delivered late on a
 * loaded machine (the budget counts from a beat that may have been due a little before it).
 */
const NOT_EARLY_MS = (BUDGET_BEATS - 10) * PERIOD_MS;

/** A budget of `beats` on the client's beat$, started now: when and on which beat it expired. */
function pendingBudget(client: BackbeatClient, beats: number) {
  const startedAt = performance.now();
  return new Promise<{ error: BeatBudgetExceededError; afterMs: number }>((resolve, reject) => {
    NEVER.pipe(withinBeats(beats, client.beat$)).subscribe({
      error: (error: unknown) => {
        if (error instanceof BeatBudgetExceededError) {
          resolve({ error, afterMs: performance.now() - startedAt });
        } else reject(error instanceof Error ? error : new Error(String(error)));
      },
    });
  });
}

/** Busy-waits `ms`: nothing else runs in this process meanwhile. */
function blockEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // blocked
  }
}

/** What every scenario checks of the timeline. */
function expectOneTimeline(log: BeatLog): void {
  expect(timelineViolations(log.beats)).toEqual([]);
  // The first pulse frame may reset a timeline of synthetic beats made before it; none after.
  const firstPulse = log.beats.findIndex((beat) => beat.source === 'pulse');
  expect(log.beats.slice(firstPulse + 1).filter((beat) => beat.timelineReset)).toEqual([]);
}

describe('stale frames', () => {
  let server: NatsServerHandle | undefined;
  let proxy: TcpProxy | undefined;
  let pulse: Pulse | undefined;
  let pulseProcess: PulseProcess | undefined;
  let client: BackbeatClient | undefined;

  afterEach(async () => {
    await client?.stop({ timeoutMs: 0 });
    await pulse?.stop();
    await pulseProcess?.stop();
    await proxy?.close();
    await server?.stop();
    client = pulse = pulseProcess = proxy = server = undefined;
  });

  it('after a partition that held the socket open heals, no frame it held is delivered', async () => {
    server = await startNatsServer();
    proxy = await startTcpProxy({ targetPort: server.port });
    pulse = await startPulse({
      natsUrl: server.url,
      clusterId: 'stale-partition',
      tempoBpm: TEMPO_BPM,
    });
    client = createClient({
      clusterId: 'stale-partition',
      agentId: 'partitioned',
      natsUrl: proxy.url,
      jitterToleranceMs: 50,
    });
    const log = logBeats(client.beat$);
    const following = log.next((beat) => beat.source === 'pulse');
    await client.start();
    await following;

    const budget = pendingBudget(client, BUDGET_BEATS);
    // 2.5 s: 25 frames held, well under a dead-link limit of a few seconds.
    proxy.partition();
    const firstSynthetic = await log.next((beat) => beat.source === 'synthetic');
    await log.next((beat) => beat.index >= firstSynthetic.index + 24);
    const lastSynthetic = log.beats[log.beats.length - 1].index;
    proxy.heal();
    // Following again: a pulse beat ahead of every synthetic one.
    await log.next((beat) => beat.source === 'pulse' && beat.index > lastSynthetic);
    const { error, afterMs } = await budget;

    const { beats } = client.metrics();
    expect(beats.rejected['stale-frame']).toBeGreaterThanOrEqual(20);
    expectOneTimeline(log);
    // No held frame was delivered: every pulse beat after the partition is ahead of it.
    const healedAt = log.beats.findIndex((beat) => beat.index === lastSynthetic) + 1;
    expect(log.beats.slice(healedAt).every((beat) => beat.index > lastSynthetic)).toBe(true);
    // The budget expired on its own beat, never before its beats' time.
    expect(error.expiredAtBeat - error.startBeat).toBeGreaterThanOrEqual(BUDGET_BEATS);
    expect(afterMs).toBeGreaterThanOrEqual(NOT_EARLY_MS);
    reportFigures('partition heal', {
      staleFrames: beats.rejected['stale-frame'],
      timelineResets: beats.timelineResets,
      budget: { startBeat: error.startBeat, expiredAtBeat: error.expiredAtBeat, afterMs },
    });
  });

  it('after the event loop was blocked for 3 s, delivers at most the freshest queued frame', async () => {
    server = await startNatsServer();
    // The pulse in a process of its own: it keeps sending while this one is blocked.
    pulseProcess = await startPulseProcess({
      natsUrl: server.url,
      clusterId: 'stale-blocked',
      pulseId: 'pulse-blocked',
      tempoBpm: TEMPO_BPM,
      epochMs: 0,
    });
    client = createClient({
      clusterId: 'stale-blocked',
      agentId: 'blocked',
      natsUrl: server.url,
      // Below one period: a frame more than one period late is stale (its successor was due).
      jitterToleranceMs: 0,
    });
    const log = logBeats(client.beat$);
    const following = log.next((beat) => beat.source === 'pulse');
    await client.start();
    const first = await following;

    const budget = pendingBudget(client, BUDGET_BEATS);
    let blockedAfter = -1;
    let unblockedWall = 0;
    const blocker = client.onBeat((beat) => {
      if (beat.beat_index === first.index + 5) {
        blockedAfter = log.beats.length;
        blockEventLoop(3000);
        unblockedWall = Date.now();
      }
    });
    await log.next((beat) => beat.source === 'pulse' && beat.index > first.index + 40);
    blocker.unsubscribe();
    const { error, afterMs } = await budget;

    // Frames sent while blocked: due before the loop was free again (epoch 0, one per period).
    // The one due just before it may be as fresh as the freshest when the loop came free within
    // the pulse's base latency of its successor's due time: frames due within 20 ms of it are
    // left out of the count.
    const lastQueued = Math.floor((unblockedWall - 20) / PERIOD_MS);
    const afterBlock = log.beats.slice(blockedAfter);
    const queuedDelivered = afterBlock.filter(
      (beat) => beat.source === 'pulse' && beat.index <= lastQueued,
    );
    expect(queuedDelivered.length).toBeLessThanOrEqual(1);
    const { beats } = client.metrics();
    expect(beats.rejected['stale-frame']).toBeGreaterThanOrEqual(20);
    expectOneTimeline(log);
    expect(error.expiredAtBeat - error.startBeat).toBeGreaterThanOrEqual(BUDGET_BEATS);
    expect(afterMs).toBeGreaterThanOrEqual(NOT_EARLY_MS);
    reportFigures('blocked loop', {
      staleFrames: beats.rejected['stale-frame'],
      queuedDelivered: queuedDelivered.map((beat) => beat.index),
      lastQueued,
      budget: { startBeat: error.startBeat, expiredAtBeat: error.expiredAtBeat, afterMs },
    });
  });
});
