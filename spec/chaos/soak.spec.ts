/**
 * The soak: one virtual hour at 1200 BPM (72,000 beats) on jest's fake timers, through a real
 * client: its frame judge, beat engine, shared budget index, onBeat isolation, claim sealing and
 * publishing, and `statusClaims$` (verifyStatus) on virtual time. The pulse (the real dev pulse
 * on the same fake clock) goes silent for 30 ms to three minutes at a time and is once replaced
 * by a pulse restarted at index 0. Budgets run on every beat, callbacks throw on every beat,
 * claims flow, and sixty other agents each speak for a minute then fall silent.
 *
 * Memory must stay bounded: the budget index, the observer's replay memory and the claim buffer
 * are checked every five virtual minutes, and the heap after a full GC may not grow.
 *
 * NATS itself is not what this test is about (the other chaos suites crash real servers): the
 * client gets the test kit's in-memory connection (`createTestConnection`), which delivers each
 * publish synchronously to matching subscriptions and mutes the beat subject to make a silence.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { last, take } from 'rxjs';
import { sealClaim } from '../../lib/claims/seal-claim';
import { createClient, type BackbeatClient } from '../../lib/client';
import { HybridLogicalClock } from '../../lib/clock/hlc';
import { generateSigningKey, parseSigningKey } from '../../lib/crypto/keys';
import { BeatBudgetExceededError, BeatSourceClosedError } from '../../lib/errors';
import { ReplayMemory } from '../../lib/observers/replay-memory';
import { beatSubject } from '../../lib/protocol/subjects';
import { windowIdFor } from '../../lib/protocol/windows';
import { startPulse, type Pulse } from '../../lib/pulse/pulse';
import { toMsgHdrs } from '../../lib/transport/msg-headers';
import { createTestConnection } from '../../lib/testing/test-connection';
import { reportFigures } from './chaos-support';

const CLUSTER = 'chaos-soak';
const AGENT = 'soaker';
const TEMPO_BPM = 1200;
const PERIOD_MS = 60_000 / TEMPO_BPM;
const TOLERANCE_MS = 100;
const HOUR_MS = 3_600_000;
const CHECK_EVERY_MS = 300_000;
const MAX_CLAIM_AGE_MS = 300_000;
/** Heap growth allowed between the first checkpoint and any later one, after a full GC. */
const HEAP_GROWTH_LIMIT_BYTES = 8 * 1024 * 1024;

/** A full garbage collection, without `--expose-gc` on the command line. */
function garbageCollector(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe('an hour at 1200 BPM on fake time', () => {
  const rememberOriginal = ReplayMemory.prototype.remember;
  const memories = new Set<ReplayMemory>();

  beforeAll(() => {
    // The observer's replay memory lives inside verifyStatus; note each instance as it is used.
    ReplayMemory.prototype.remember = function (this: ReplayMemory, ...args) {
      memories.add(this);
      rememberOriginal.apply(this, args);
    };
    jest.useFakeTimers({ now: 1_800_000_000_000, doNotFake: ['nextTick', 'queueMicrotask'] });
  });

  afterAll(() => {
    jest.useRealTimers();
    ReplayMemory.prototype.remember = rememberOriginal;
  });

  it('keeps time, isolates failing callbacks, settles every budget and claim, in bounded memory', async () => {
    const gc = garbageCollector();
    // Nothing recorded: the heap must stay flat for the hour.
    const loopback = createTestConnection({ record: false });
    const agentKey = generateSigningKey();
    const rotorKey = parseSigningKey(generateSigningKey().secretKey);
    const client: BackbeatClient = createClient({
      clusterId: CLUSTER,
      agentId: AGENT,
      connection: loopback,
      signingKey: agentKey.secretKey,
      jitterToleranceMs: TOLERANCE_MS,
      fallbackTempoBpm: TEMPO_BPM,
    });

    // Sixty other agents, one a minute, each claiming every ten seconds for its minute.
    const rotorIds = Array.from({ length: 60 }, (_, i) => `rotor-${i}`);
    const trustedKeys: Record<string, Uint8Array> = { [AGENT]: agentKey.publicKey };
    for (const id of rotorIds) trustedKeys[id] = rotorKey.publicKey;

    const verdicts = { ok: 0, rejected: new Map<string, number>() };
    let streamEnded = false;
    let pulse: Pulse | undefined;
    const counts = {
      beats: 0,
      pulse: 0,
      synthetic: 0,
      resets: 0,
      thrown: 0,
      rejectedCallbacks: 0,
      claims: 0,
      claimFailures: 0,
      budgetsStarted: 0,
      budgetsMet: 0,
      budgetsExpired: 0,
      budgetsClosed: 0,
      budgetsOther: 0,
      promiseBudgets: 0,
      promiseBudgetsAborted: 0,
      promiseBudgetsClosed: 0,
      elapsed: 0,
      violations: 0,
    };
    let lastIndex: number | undefined;

    // Callbacks that fail on every beat, before and after the one that counts.
    client.onBeat(() => {
      counts.thrown++;
      throw new Error('a callback that always throws');
    });
    client.onBeat(async (beat) => {
      if (beat.beat_index % 3 !== 0) return;
      counts.rejectedCallbacks++;
      await Promise.resolve();
      throw new Error('an async callback that rejects');
    });
    client.onBeat((beat) => {
      counts.beats++;
      if (beat.source === 'pulse') counts.pulse++;
      else counts.synthetic++;
      if (beat.timelineReset) counts.resets++;
      else if (lastIndex !== undefined && beat.beat_index <= lastIndex) counts.violations++;
      counts.elapsed +=
        lastIndex === undefined || beat.timelineReset
          ? 1
          : Math.max(1, beat.beat_index - lastIndex);
      lastIndex = beat.beat_index;

      // A budget of 4 beats on work that takes 1 to 7 beats: met or expired, never left over.
      const workBeats = (counts.beats % 7) + 1;
      counts.budgetsStarted++;
      client.beat$.pipe(take(workBeats), last(), client.withinBeats(4)).subscribe({
        complete: () => counts.budgetsMet++,
        error: (error: unknown) => {
          if (error instanceof BeatBudgetExceededError) counts.budgetsExpired++;
          else if (error instanceof BeatSourceClosedError) counts.budgetsClosed++;
          else counts.budgetsOther++;
        },
      });
      // Every 100th beat, the promise form on work that never ends: aborted at expiry.
      if (counts.beats % 100 === 0) {
        counts.promiseBudgets++;
        client
          .withBeatBudget(
            3,
            (signal) =>
              new Promise<never>((_resolve, reject) => {
                signal.addEventListener('abort', () => {
                  counts.promiseBudgetsAborted++;
                  reject(signal.reason as Error);
                });
              }),
          )
          .catch((error: unknown) => {
            if (error instanceof BeatSourceClosedError) counts.promiseBudgetsClosed++;
            else if (!(error instanceof BeatBudgetExceededError)) counts.budgetsOther++;
          });
      }
      // A claim every 20th beat.
      if (counts.beats % 20 === 0) {
        counts.claims++;
        client
          .emitStatusClaim({ state: 'executing', beatsLeft: 20, progress: 0.5 })
          .catch(() => counts.claimFailures++);
      }
    });

    await client.start();
    const observer = client
      .statusClaims$({
        trustedKeys,
        maxClaimAgeMs: MAX_CLAIM_AGE_MS,
        physicalNow: () => Date.now(),
      })
      .subscribe({
        next: (verdict) => {
          if (verdict.ok) verdicts.ok++;
          else
            verdicts.rejected.set(verdict.reason, (verdicts.rejected.get(verdict.reason) ?? 0) + 1);
        },
        error: () => (streamEnded = true),
        complete: () => (streamEnded = true),
      });
    await Promise.resolve(); // the observer subscribes once the connection promise settles

    const startPulseAt = (pulseId: string) =>
      startPulse({
        connection: loopback,
        clusterId: CLUSTER,
        pulseId,
        tempoBpm: TEMPO_BPM,
      });
    pulse = await startPulseAt('soak-pulse-1');

    // Silences: one every five minutes (at 2:30, 7:30, …), of growing length.
    const silences = [30, 120, 400, 5_000, 45_000, 180_000];
    const rotorClocks = new Map<string, HybridLogicalClock>();
    let rotorClaims = 0;
    const rotorClaim = (minute: number) => {
      const id = rotorIds[minute % rotorIds.length];
      let clock = rotorClocks.get(id);
      if (!clock) rotorClocks.set(id, (clock = new HybridLogicalClock(id)));
      const beat = client.getCurrentBeat();
      const sealed = sealClaim(
        { state: 'waiting', beatsLeft: 1, progress: 0, notes: '' },
        {
          clusterId: CLUSTER,
          agentId: id,
          defaultTaskId: `task-${id}`,
          beat: {
            beat_index: Math.max(0, beat),
            window_id: windowIdFor(CLUSTER, Math.max(0, beat)),
          },
          hlc: clock.tick(),
          signingKey: rotorKey,
        },
      );
      rotorClaims++;
      loopback.publish(sealed.subject, sealed.payload, { headers: toMsgHdrs(sealed.headers) });
    };

    const checkpoints: { atMin: number; heapMB: number; pending: number; memory: number }[] = [];
    let firstHeap = 0;
    let maxHeapGrowth = 0;
    for (let at = 0; at < HOUR_MS; at += CHECK_EVERY_MS) {
      const window = at / CHECK_EVERY_MS;
      for (let second = 0; second < CHECK_EVERY_MS; second += 10_000) {
        if (second === 150_000) {
          const length = silences[window % silences.length];
          setTimeout(loopback.mute(beatSubject(CLUSTER)), length);
        }
        if (window === 6 && second === 0) {
          // Minute 30: the pulse dies; a minute later a new one starts again from index 0.
          await pulse.stop();
          setTimeout(() => {
            void startPulseAt('soak-pulse-2').then((next) => (pulse = next));
          }, 60_000);
        }
        rotorClaim(Math.floor((at + second) / 60_000));
        await jest.advanceTimersByTimeAsync(10_000);
      }
      gc();
      const heap = process.memoryUsage().heapUsed;
      if (checkpoints.length === 0) firstHeap = heap;
      else maxHeapGrowth = Math.max(maxHeapGrowth, heap - firstHeap);
      const metrics = client.metrics();
      const memory = Math.max(0, ...[...memories].map((m) => m.size));
      checkpoints.push({
        atMin: (at + CHECK_EVERY_MS) / 60_000,
        heapMB: Math.round(heap / 1e5) / 10,
        pending: metrics.budgets.pending,
        memory,
      });
      // Bounded: at most the budgets started in the last 7 beats (plus the promise form's);
      // one remembered stamp for this agent and for each rotor heard in the last claim age.
      expect(metrics.budgets.pending).toBeLessThanOrEqual(9);
      expect(memory).toBeLessThanOrEqual(1 + MAX_CLAIM_AGE_MS / 60_000 + 2);
      expect(metrics.status.buffered).toBe(0);
      expect(loopback.subscriptionCount).toBeLessThanOrEqual(3 + 9);
    }

    const metrics = client.metrics();
    await pulse?.stop();
    observer.unsubscribe();
    await client.stop({ timeoutMs: 0 });
    await jest.advanceTimersByTimeAsync(0);

    // Time kept: 72,000 beats elapsed in the hour, on one timeline broken only by the one
    // flagged reset (the new pulse at index 0).
    expect(counts.violations).toBe(0);
    expect(counts.resets).toBe(1);
    expect(Math.abs(counts.elapsed - HOUR_MS / PERIOD_MS)).toBeLessThanOrEqual(5);
    expect(counts.synthetic).toBe(metrics.beats.synthetic);
    expect(counts.pulse).toBe(metrics.beats.delivered);
    expect(metrics.beats.synthetic).toBeGreaterThan((180_000 + 60_000) / PERIOD_MS);
    // Failing callbacks: each counted, none lost a beat for the others.
    expect(counts.thrown).toBe(counts.beats);
    expect(metrics.beats.callbackErrors).toBe(counts.thrown + counts.rejectedCallbacks);
    // Budgets: every one settled: met or expired as its work length says, or, for the few still
    // running at stop(), closed with the beat source.
    expect(counts.budgetsOther).toBe(0);
    expect(counts.budgetsMet + counts.budgetsExpired + counts.budgetsClosed).toBe(
      counts.budgetsStarted,
    );
    expect(counts.budgetsClosed).toBeLessThanOrEqual(7);
    expect(counts.budgetsMet).toBeGreaterThan(0);
    expect(counts.budgetsExpired).toBeGreaterThan(0);
    expect(counts.promiseBudgetsAborted + counts.promiseBudgetsClosed).toBe(counts.promiseBudgets);
    expect(metrics.budgets.created).toBe(counts.budgetsStarted + counts.promiseBudgets);
    // Claims: every one of this agent and of the rotors accepted, nothing else seen.
    expect(counts.claimFailures).toBe(0);
    expect(verdicts.rejected).toEqual(new Map());
    expect(verdicts.ok).toBe(counts.claims + rotorClaims);
    expect(streamEnded).toBe(false);
    // Memory: no growth of the heap beyond noise.
    expect(maxHeapGrowth).toBeLessThan(HEAP_GROWTH_LIMIT_BYTES);

    reportFigures('soak', {
      beats: counts.beats,
      elapsed: counts.elapsed,
      synthetic: metrics.beats.synthetic,
      missed: metrics.beats.missed,
      claims: counts.claims,
      rotorClaims,
      budgets: counts.budgetsStarted,
      met: counts.budgetsMet,
      expired: counts.budgetsExpired,
      callbackErrors: metrics.beats.callbackErrors,
      maxHeapGrowthMB: Math.round(maxHeapGrowth / 1e5) / 10,
      checkpoints,
    });
  });
});
