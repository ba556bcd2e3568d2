/**
 * Phase through an outage (issue 15): do followers of one cluster agree on when beat k is,
 * pulse or no pulse?
 *
 * A pulse (here, in the bench's own process) writes frames on an exact grid (beat i due at
 * epoch + i × 500 ms, 120 BPM, `deadline_at` exact) and sends each 0–25 ms late (a pulse's
 * timer and a network deliver them so). Followers run in processes of their own:
 * - four SDK clients (`sdk-1` … `sdk-4`), `sdk-4` busy for 45 ms as each of the last three
 *   frames before the outage arrives;
 * - the baseline: a minimal raw nats.js follower keeping the grid with a min filter over the
 *   last 16 frames (`raw-min`), and a busy twin;
 * - the previous design: the same raw follower anchoring its synthetic schedule on the last
 *   frame's arrival (`raw-last`), and a busy twin.
 * - a control: a process that only sets a timer at each beat's exact time on the grid (it knows
 *   the epoch): its error is the machine's own timer lateness, which every follower pays too.
 * After PHASE_WARMUP_SECONDS (20) the pulse stops for PHASE_OUTAGE_SECONDS (60); then a pulse
 * comes back on the same epoch with `startPulse({ epochMs })` (same pulse id) for 10 s.
 *
 * Figures: per follower, the error of its synthetic beats against the pulse's grid (delivery
 * wall time − (epoch + k × period)), p50/p99, over the outage (the first synthetic beat, which
 * the rules emit a tolerance late, left out) and over its last 10 s ("after 60 s"); per index,
 * the spread between followers of one kind (max − min delivery time), p50/p99, of all four SDK
 * followers and, for a like-for-like comparison, of one quiet and one busy follower of each
 * kind (`pairSpread`); on the return,
 * whether every follower delivered every index once, in order, with no reset and no gap.
 * Goals: SDK p99 ≤ baseline p99 + 1 ms, SDK spread p99 ≤ 2 ms, the return seamless. For
 * information, the same figures of each follower's plan (when it meant the next beat to come,
 * set as it emitted a synthetic beat), free of the machine's timer lateness.
 *
 * Run: `npm run bench:phase`; PHASE_OUTAGE_SECONDS=10 for a quick run (BENCH_QUICK=1: 10 s
 * outage, 10 s warm-up).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { connect } from 'nats';
import { HybridLogicalClock } from '../lib/clock/hlc';
import { beatSubject } from '../lib/protocol/subjects';
import { makePulseFrame } from '../lib/pulse/frame';
import { startPulse } from '../lib/pulse/pulse';
import { startNatsServer, stopAllNatsServers } from '../spec/support/nats-server';
import type { Recorded } from './phase-follower';
import { log, percentile, printResult, roundMs, sized, sleep } from './support';

const TEMPO_BPM = 120;
const PERIOD_MS = 60000 / TEMPO_BPM;
const SEND_JITTER_MS = 25;
const CLUSTER = 'phase';
const PULSE_ID = 'pulse-phase';
const SPREAD_GOAL_MS = 2;
const BASELINE_MARGIN_MS = 1;
/** The last part of the outage reported on its own ("after 60 s"). */
const TAIL_SECONDS = 10;

const warmupSeconds = sized('PHASE_WARMUP_SECONDS', 20, 10);
const outageSeconds = sized('PHASE_OUTAGE_SECONDS', 60, 10);
const returnSeconds = sized('PHASE_RETURN_SECONDS', 10, 5);

interface FollowerSpec {
  name: string;
  kind: 'sdk' | 'raw-min' | 'raw-last' | 'timer';
  busy: boolean;
}

const followers: FollowerSpec[] = [
  { name: 'sdk-1', kind: 'sdk', busy: false },
  { name: 'sdk-2', kind: 'sdk', busy: false },
  { name: 'sdk-3', kind: 'sdk', busy: false },
  { name: 'sdk-4-busy', kind: 'sdk', busy: true },
  { name: 'baseline', kind: 'raw-min', busy: false },
  { name: 'baseline-busy', kind: 'raw-min', busy: true },
  { name: 'previous', kind: 'raw-last', busy: false },
  { name: 'previous-busy', kind: 'raw-last', busy: true },
  { name: 'timer-control', kind: 'timer', busy: false },
];

interface FollowerResult {
  name: string;
  kind: string;
  busy: boolean;
  beats: Recorded[];
}

const wallNow = () => performance.timeOrigin + performance.now();

function startFollower(
  spec: FollowerSpec,
  env: Record<string, string>,
): { child: ChildProcess; ready: Promise<void>; result: Promise<FollowerResult> } {
  const child = fork(join(__dirname, 'phase-follower.ts'), [], {
    execArgv: ['--import', 'tsx', '--import', pathToFileURL(join(__dirname, 'built-sdk.mjs')).href],
    env: { ...process.env, ...env, PHASE_NAME: spec.name, PHASE_KIND: spec.kind },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let readySeen: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (readySeen = resolve));
  const result = new Promise<FollowerResult>((resolve, reject) => {
    child.on('message', (message: { ready?: boolean } & Partial<FollowerResult>) => {
      if (message.ready === true) readySeen();
      else resolve(message as FollowerResult);
    });
    child.once('exit', (code) => reject(new Error(`${spec.name} exited with code ${code}`)));
  });
  return { child, ready, result };
}

/** Sends frames on the exact grid, each 0–25 ms late, from `firstIndex` up to `endIndex`. */
async function jitteredPulse(
  url: string,
  epochMs: number,
  firstIndex: number,
  endIndex: number,
): Promise<void> {
  const connection = await connect({ servers: url, name: PULSE_ID });
  const clock = new HybridLogicalClock(PULSE_ID);
  const subject = beatSubject(CLUSTER);
  for (let index = firstIndex; index < endIndex; index++) {
    const sendAt = epochMs + index * PERIOD_MS + Math.random() * SEND_JITTER_MS;
    await sleep(Math.max(0, sendAt - wallNow()));
    const { payload } = makePulseFrame({
      clusterId: CLUSTER,
      pulseId: PULSE_ID,
      beatIndex: index,
      tempoBpm: TEMPO_BPM,
      beatsPerBar: 4,
      phases: ['plan', 'work', 'work', 'review'],
      clock,
      deadlineAtMs: epochMs + (index + 1) * PERIOD_MS,
    });
    connection.publish(subject, payload);
  }
  await connection.flush();
  await connection.close();
}

function summary(values: number[]): { count: number; p50Ms: number; p99Ms: number; maxMs: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50Ms: roundMs(percentile(sorted, 50)),
    p99Ms: roundMs(percentile(sorted, 99)),
    maxMs: roundMs(percentile(sorted, 100)),
  };
}

/**
 * Whether the follower delivered every index once, in order, with no reset and no gap, from its
 * first pulse beat on (before it, a follower started ahead of the pulse kept time on its own:
 * its first pulse beat is a timeline reset by the rules).
 */
function seamless(all: readonly Recorded[]): { ok: boolean; problems: string[] } {
  const problems: string[] = [];
  const first = all.findIndex((beat) => beat.source === 'pulse');
  if (first < 0) return { ok: false, problems: ['no pulse beat'] };
  const beats = all.slice(first + 1);
  beats.forEach((beat, i) => {
    if (beat.reset) problems.push(`reset at ${beat.index}`);
    const previous = i === 0 ? all[first] : beats[i - 1];
    if (beat.index !== previous.index + 1) problems.push(`${previous.index} then ${beat.index}`);
  });
  return { ok: problems.length === 0, problems: problems.slice(0, 5) };
}

async function main(): Promise<void> {
  const server = await startNatsServer();
  const firstIndex = 0;
  const outageIndex = Math.round((warmupSeconds * 1000) / PERIOD_MS);
  const returnIndex = outageIndex + Math.round((outageSeconds * 1000) / PERIOD_MS);
  const busyIndexes = [outageIndex - 3, outageIndex - 2, outageIndex - 1].join(',');
  log(
    `phase: ${followers.length} followers, ${TEMPO_BPM} BPM, warm-up ${warmupSeconds} s, outage ${outageSeconds} s (beats ${outageIndex}–${returnIndex - 1}), return ${returnSeconds} s`,
  );
  const running = followers.map((spec) =>
    startFollower(spec, {
      PHASE_NATS_URL: server.url,
      PHASE_CLUSTER: CLUSTER,
      PHASE_TEMPO_BPM: String(TEMPO_BPM),
      PHASE_BUSY_INDEXES: spec.busy ? busyIndexes : '',
    }),
  );
  try {
    await Promise.all(running.map((follower) => follower.ready));
    const epochMs = Math.ceil(wallNow() / 1000) * 1000 + 1000;
    const endAtMs = epochMs + returnIndex * PERIOD_MS + returnSeconds * 1000;
    for (const follower of running) follower.child.send({ epochMs });
    await jitteredPulse(server.url, epochMs, firstIndex, outageIndex);
    log('pulse stopped: the outage begins');
    await sleep(epochMs + returnIndex * PERIOD_MS - wallNow());
    const pulse = await startPulse({
      natsUrl: server.url,
      clusterId: CLUSTER,
      pulseId: PULSE_ID,
      tempoBpm: TEMPO_BPM,
      epochMs,
    });
    log(`pulse back on its epoch at beat ${pulse.beatIndex()}`);
    await sleep(endAtMs - wallNow());
    await pulse.stop();
    for (const follower of running) follower.child.send({ stop: true });
    const results = await Promise.all(running.map((follower) => follower.result));
    printResult(analyse(results, { epochMs, outageIndex, returnIndex }));
  } finally {
    for (const follower of running) if (follower.child.exitCode === null) follower.child.kill();
    await stopAllNatsServers();
  }
}

function analyse(
  results: FollowerResult[],
  run: { epochMs: number; outageIndex: number; returnIndex: number },
) {
  const { epochMs, outageIndex, returnIndex } = run;
  const tailFrom = returnIndex - Math.round((TAIL_SECONDS * 1000) / PERIOD_MS);
  const errorOf = (beat: Recorded) => beat.atMs - (epochMs + beat.index * PERIOD_MS);
  // Synthetic beats of the outage, the first (a tolerance late by the rules) left out.
  const outageBeats = (beats: Recorded[]) =>
    beats.filter(
      (beat) => beat.source === 'synthetic' && beat.index > outageIndex && beat.index < returnIndex,
    );
  // The plan for beat k + 1, made when beat k was emitted: the grid, without timer lateness.
  const plannedErrorOf = (beat: Recorded) =>
    (beat.nextPlannedAtMs ?? NaN) - (epochMs + (beat.index + 1) * PERIOD_MS);
  const planned = (beats: Recorded[]) =>
    outageBeats(beats).filter(
      (beat) => beat.index + 1 < returnIndex && beat.nextPlannedAtMs !== null,
    );
  const perFollower = results.map((result) => {
    const synthetic = outageBeats(result.beats);
    return {
      name: result.name,
      kind: result.kind,
      busy: result.busy,
      syntheticBeats: synthetic.length,
      errorMs: summary(synthetic.map(errorOf)),
      errorAfter60sMs: summary(synthetic.filter((b) => b.index >= tailFrom).map(errorOf)),
      plannedErrorMs: summary(planned(result.beats).map(plannedErrorOf)),
      afterReturn: {
        pulseBeats: result.beats.filter((b) => b.source === 'pulse' && b.index >= returnIndex)
          .length,
        ...seamless(result.beats),
      },
    };
  });
  const spreadOf = (
    kind: string,
    of: 'delivered' | 'planned' = 'delivered',
    only: (result: FollowerResult) => boolean = () => true,
  ) => {
    const members = results.filter((r) => r.kind === kind && only(r));
    const byIndex = new Map<number, number[]>();
    for (const result of members) {
      const beats = of === 'delivered' ? outageBeats(result.beats) : planned(result.beats);
      for (const beat of beats) {
        const at = of === 'delivered' ? beat.atMs : (beat.nextPlannedAtMs ?? NaN);
        byIndex.set(beat.index, [...(byIndex.get(beat.index) ?? []), at]);
      }
    }
    const spreads = [...byIndex.values()]
      .filter((times) => times.length === members.length)
      .map((times) => Math.max(...times) - Math.min(...times));
    return summary(spreads);
  };
  const spread = {
    sdk: spreadOf('sdk'),
    baseline: spreadOf('raw-min'),
    previous: spreadOf('raw-last'),
  };
  // (info) Two followers of each kind, one busy: the same number on every side.
  const firstAndBusy = (r: FollowerResult) => r.busy || /^(sdk-1|baseline|previous)$/.test(r.name);
  const pairSpread = {
    sdk: spreadOf('sdk', 'delivered', firstAndBusy),
    baseline: spreadOf('raw-min', 'delivered', firstAndBusy),
    previous: spreadOf('raw-last', 'delivered', firstAndBusy),
  };
  // (info) The same of the plans: what the design decides, the machine's timers left out.
  const plannedSpread = {
    sdk: spreadOf('sdk', 'planned'),
    baseline: spreadOf('raw-min', 'planned'),
    previous: spreadOf('raw-last', 'planned'),
  };
  const baselineP99 = Math.max(
    ...perFollower.filter((f) => f.kind === 'raw-min').map((f) => f.errorMs.p99Ms),
  );
  const sdk = perFollower.filter((f) => f.kind === 'sdk');
  const goals = {
    p99WithinBaselinePlus1Ms: sdk.every((f) => f.errorMs.p99Ms <= baselineP99 + BASELINE_MARGIN_MS),
    spreadP99AtMost2Ms: spread.sdk.p99Ms <= SPREAD_GOAL_MS,
    returnSeamless: sdk.every((f) => f.afterReturn.ok && f.afterReturn.pulseBeats > 0),
  };
  return {
    tempoBpm: TEMPO_BPM,
    sendJitterMs: SEND_JITTER_MS,
    warmupSeconds,
    outageSeconds,
    returnSeconds,
    followers: perFollower,
    spread,
    pairSpread,
    plannedSpread,
    baselineP99Ms: baselineP99,
    goals: { ...goals, met: Object.values(goals).every(Boolean) },
  };
}

main().catch((error: unknown) => {
  log(`phase failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
