/**
 * The wall clock of the client's process stepped an hour ahead for 12 s and back, then an hour
 * behind for 12 s and back (`Date.now` stubbed, as `date -s` would move it; `performance.now`
 * keeps counting), against a real nats-server and a dev pulse, both while the client follows the
 * pulse and while it keeps time alone: beats keep their spacing, budgets expire on their beats,
 * stamps only grow, and an observer in another process, whose clock was never stepped, accepts
 * the claims (docs/protocol.md section 7: a step undone within a minute never reaches a stamp).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createClient, type BackbeatClient } from '../../lib/client';
import { hlcPhysicalMs } from '../../lib/clock/hlc';
import { generateSigningKey } from '../../lib/crypto/keys';
import { BeatBudgetExceededError, BeatSourceClosedError } from '../../lib/errors';
import { startPulse, type Pulse } from '../../lib/pulse/pulse';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';
import { Counter, logBeats, reportFigures, timelineViolations } from './chaos-support';

const CLUSTER = 'chaos-clock-step';
const AGENT = 'stepped';
const TEMPO_BPM = 300;
const PERIOD_MS = 60_000 / TEMPO_BPM; // 200 ms
const TOLERANCE_MS = 100;
const HOUR_MS = 3_600_000;
const STEP_HOLD_MS = 12_000;
/** The observer's max claim age: a stamp frozen for more than this is refused as `stale`. */
const OBSERVER_MAX_AGE_MS = 5_000;
/**
 * Event-loop slack on a beat interval (a loaded 2-core machine). A step that froze a timer would
 * stall beats for an hour, one that fired timers early would burst them: both far outside it.
 */
const SLACK_MS = 150;
const BUDGET_BEATS = 4;

type Phase = 'before' | 'ahead' | 'after-ahead' | 'behind' | 'after-behind';

/** The true wall clock, captured before `Date.now` is stubbed. */
const realNow = Date.now.bind(Date);

/** A claim as the client emitted it. */
interface Emitted {
  readonly hlc: string;
  readonly phase: Phase;
}

/** A verdict line of the observer process. */
interface ObserverLine {
  readonly hlc: string | null;
  readonly ok: boolean;
  readonly reason: string | null;
  readonly leadMs: number | null;
}

/** A beat as the test saw it: monotonic arrival, index, source. */
interface SeenBeat {
  readonly atMs: number;
  readonly index: number;
  readonly source: string;
  readonly phase: Phase;
}

interface BudgetOutcome {
  readonly startBeat: number;
  /** Where its start beat is in the test's list of beats. */
  readonly startAt: number;
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  readonly error: unknown;
}

/** Starts the observer process; resolves once its subscription is registered. */
async function startObserver(
  url: string,
  publicKey: string,
): Promise<{ child: ChildProcess; lines: ObserverLine[]; seen: (hlc: string) => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(__dirname, 'clock-step-observer.ts'),
      url,
      CLUSTER,
      AGENT,
      publicKey,
      String(OBSERVER_MAX_AGE_MS),
    ],
    { cwd: join(__dirname, '..', '..'), stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines: ObserverLine[] = [];
  const waiters = new Map<string, () => void>();
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    child.once('exit', (code) => reject(new Error(`observer exited (${code}): ${stderr}`)));
  });
  createInterface({ input: child.stdout }).on('line', (text) => {
    const line = JSON.parse(text) as ObserverLine & { ready?: boolean };
    if (line.ready === true) {
      markReady();
      return;
    }
    lines.push(line);
    if (line.hlc !== null) waiters.get(line.hlc)?.();
  });
  await ready;
  return {
    child,
    lines,
    seen: (hlc) =>
      lines.some((line) => line.hlc === hlc)
        ? Promise.resolve()
        : new Promise((resolve) => waiters.set(hlc, resolve)),
  };
}

describe('a wall clock stepped an hour for 12 s, ahead then behind', () => {
  let server: NatsServerHandle;
  let pulse: Pulse | undefined;
  let client: BackbeatClient | undefined;
  let observer: ChildProcess | undefined;
  let stepMs = 0;

  beforeAll(() => {
    // Installed before the client exists: the SDK reads the stub wherever it reads Date.now.
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + stepMs);
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    await client?.stop({ timeoutMs: 0 });
    await pulse?.stop();
    observer?.kill('SIGKILL');
    await server?.stop();
  });

  it('leaves no scar: beats on time, budgets on their beats, every claim accepted elsewhere', async () => {
    server = await startNatsServer();
    const key = generateSigningKey();
    const publicKey = Buffer.from(key.publicKey).toString('base64');
    const observing = startObserver(server.url, publicKey);
    // The pulse stands for another host: its wall clock is the true one.
    const pulseOn = (startIndex: number) =>
      startPulse({
        natsUrl: server.url,
        clusterId: CLUSTER,
        pulseId: `pulse-${startIndex}`,
        tempoBpm: TEMPO_BPM,
        startIndex,
        physicalNow: realNow,
      });
    pulse = await pulseOn(0);
    const watcher = await observing;
    observer = watcher.child;

    client = createClient({
      clusterId: CLUSTER,
      agentId: AGENT,
      natsUrl: server.url,
      signingKey: key.secretKey,
      fallbackTempoBpm: TEMPO_BPM,
      jitterToleranceMs: TOLERANCE_MS,
    });
    const running = client;
    const log = logBeats(running.beat$);
    let phase: Phase = 'before';
    const beats: SeenBeat[] = [];
    const beatCount = new Counter();
    const emitted: Emitted[] = [];
    const claimFailures: unknown[] = [];
    const budgets: Promise<BudgetOutcome>[] = [];
    const emitting = running.onBeat((beat) => {
      const atMs = performance.now();
      const at = beats.push({ atMs, index: beat.beat_index, source: beat.source, phase }) - 1;
      beatCount.add();
      const claimPhase = phase;
      running
        .emitStatusClaim({ state: 'executing', beatsLeft: 1, progress: 0.5 })
        .then((claim) => emitted.push({ hlc: claim.hlc, phase: claimPhase }))
        .catch((error: unknown) => claimFailures.push(error));
      if (beat.beat_index % 3 === 0) {
        budgets.push(
          running
            .withBeatBudget(BUDGET_BEATS, () => new Promise<never>(() => undefined))
            .catch((error: unknown) => ({
              startBeat: beat.beat_index,
              startAt: at,
              startedAtMs: atMs,
              endedAtMs: performance.now(),
              error,
            })),
        );
      }
    });
    /** Resolves after `n` more beats. */
    const moreBeats = (n: number) => beatCount.reach(beatCount.value + n);
    /** Holds the scenario for `ms` of real time (the length of a step; nothing is timed by it). */
    const hold = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

    await running.start();
    await log.next((beat) => beat.source === 'pulse');
    await moreBeats(10);

    // An hour ahead while following the pulse; the pulse goes silent midway; undone while the
    // client keeps time alone.
    phase = 'ahead';
    stepMs = HOUR_MS;
    await hold(STEP_HOLD_MS / 2);
    const firstSynthetic = log.next((beat) => beat.source === 'synthetic');
    await pulse.stop();
    pulse = undefined;
    await firstSynthetic;
    await hold(STEP_HOLD_MS / 2);
    phase = 'after-ahead';
    stepMs = 0;
    await moreBeats(10);

    // An hour behind while keeping time alone; a pulse comes back midway; undone while the
    // client follows it.
    phase = 'behind';
    stepMs = -HOUR_MS;
    await hold(STEP_HOLD_MS / 2);
    const backOnPulse = log.next((beat) => beat.source === 'pulse');
    pulse = await pulseOn(running.getCurrentBeat() + 2);
    await backOnPulse;
    await hold(STEP_HOLD_MS / 2);
    phase = 'after-behind';
    stepMs = 0;
    await moreBeats(15);

    // The last claim's verdict is the observer's last line: every earlier one is in.
    emitting.unsubscribe();
    const last = await running.emitStatusClaim({ state: 'done', beatsLeft: 0, progress: 1 });
    emitted.push({ hlc: last.hlc, phase });
    await watcher.seen(last.hlc);
    const metrics = running.metrics();
    await running.stop();
    log.stop();

    // Beats: one timeline; on each source, one a period, neither burst nor stalled. The first
    // interval after a change of source is the degradation point or a re-base, not a period.
    expect(timelineViolations(log.beats)).toEqual([]);
    const intervals: { ms: number; phase: Phase }[] = [];
    for (let i = 2; i < beats.length; i++) {
      const [before, previous, beat] = [beats[i - 2], beats[i - 1], beats[i]];
      if (beat.source !== previous.source || previous.source !== before.source) continue;
      intervals.push({ ms: beat.atMs - previous.atMs, phase: beat.phase });
    }
    const spacing = intervals.map((interval) => interval.ms);
    expect(intervals.filter((i) => i.phase === 'ahead').length).toBeGreaterThan(20);
    expect(intervals.filter((i) => i.phase === 'behind').length).toBeGreaterThan(20);
    expect(Math.min(...spacing)).toBeGreaterThan(PERIOD_MS - SLACK_MS);
    expect(Math.max(...spacing)).toBeLessThan(PERIOD_MS + SLACK_MS);

    // Budgets: each expired on the first beat BUDGET_BEATS or more indexes after its start (an
    // index jump counts all it skips), when that beat came, and never stalled past its beats.
    const settled = await Promise.all(budgets);
    // A budget still open at stop() ends with BeatSourceClosedError: it never had its beats.
    const outcomes = settled.filter((outcome) => !(outcome.error instanceof BeatSourceClosedError));
    expect(settled.length - outcomes.length).toBeLessThanOrEqual(BUDGET_BEATS);
    expect(outcomes.length).toBeGreaterThan(30);
    const budgetMs = outcomes.map((outcome) => outcome.endedAtMs - outcome.startedAtMs);
    const expiryLagMs: number[] = [];
    for (const outcome of outcomes) {
      expect(outcome.error).toBeInstanceOf(BeatBudgetExceededError);
      const error = outcome.error as BeatBudgetExceededError;
      expect(error.startBeat).toBe(outcome.startBeat);
      const due = beats
        .slice(outcome.startAt + 1)
        .find((beat) => beat.index >= outcome.startBeat + BUDGET_BEATS)!;
      expect(error.expiredAtBeat).toBe(due.index);
      expiryLagMs.push(outcome.endedAtMs - due.atMs);
    }
    expect(Math.min(...expiryLagMs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...expiryLagMs)).toBeLessThan(SLACK_MS);
    expect(Math.max(...budgetMs)).toBeLessThan(
      (BUDGET_BEATS + 1) * PERIOD_MS + TOLERANCE_MS + SLACK_MS,
    );

    // Stamps: strictly increasing in the order the claims were made.
    expect(claimFailures).toEqual([]);
    const backwards = emitted.filter((claim, i) => i > 0 && claim.hlc <= emitted[i - 1].hlc);
    expect(backwards).toEqual([]);
    // Pulse stamps kept being merged: none was too far ahead of the client's clock.
    expect(metrics.beats.rejected['hlc-skew']).toBe(0);

    // The observer: every claim arrived once, and those made after each step was undone (and,
    // the step never having reached a stamp, those made during it) are accepted.
    const verdicts = new Map(watcher.lines.map((line) => [line.hlc, line]));
    expect(watcher.lines).toHaveLength(emitted.length);
    const byPhase = (wanted: Phase) => emitted.filter((claim) => claim.phase === wanted);
    const refused = (claims: readonly Emitted[]) =>
      claims.filter((claim) => verdicts.get(claim.hlc)?.ok !== true);
    expect(byPhase('after-ahead').length).toBeGreaterThan(5);
    expect(byPhase('after-behind').length).toBeGreaterThan(5);
    expect(refused(byPhase('after-ahead'))).toEqual([]);
    expect(refused(byPhase('after-behind'))).toEqual([]);
    expect(refused(emitted)).toEqual([]);
    const leads = watcher.lines.map((line) => line.leadMs!);
    const leadsOf = (wanted: Phase) =>
      byPhase(wanted).map((claim) => verdicts.get(claim.hlc)!.leadMs!);
    // A stamp is never ahead of the observer by more than the carried clock's tolerance, nor
    // behind it by more than delivery takes: neither an hour ahead nor frozen.
    expect(Math.max(...leads)).toBeLessThan(1000);
    expect(Math.min(...leads)).toBeGreaterThan(-OBSERVER_MAX_AGE_MS);

    const phases: Phase[] = ['before', 'ahead', 'after-ahead', 'behind', 'after-behind'];
    reportFigures('clock-step', {
      claims: emitted.length,
      verdicts: countBy(watcher.lines.map((line) => (line.ok ? 'ok' : line.reason!))),
      leadMsByPhase: Object.fromEntries(
        phases.map((p) => [p, { min: Math.min(...leadsOf(p)), max: Math.max(...leadsOf(p)) }]),
      ),
      beatSpacingMs: { min: Math.min(...spacing), max: Math.max(...spacing) },
      budgets: outcomes.length,
      budgetMs: { min: Math.min(...budgetMs), max: Math.max(...budgetMs) },
      budgetExpiryLagMs: Math.max(...expiryLagMs),
      beats: countBy(beats.map((beat) => `${beat.phase}:${beat.source}`)),
      missed: metrics.beats.missed,
      hlcMergeSkew: metrics.beats.rejected['hlc-skew'],
    });
    expect(hlcPhysicalMs(last.hlc)).toBeLessThanOrEqual(realNow());
  });
});

function countBy(keys: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const key of keys) counts[key] = (counts[key] ?? 0) + 1;
  return counts;
}
