/**
 * `npm run bench`: every benchmark, on the SDK as built (dist/cjs, see built-sdk.mjs), each in its own child process (so that heaps and JIT states
 * do not mix), one after the other (so that they do not compete for the CPU), each against its
 * baseline in the same run. Prints a table (benchmark, SDK figure, baseline figure, ratio, goal,
 * met?) on stderr and stdout, and writes every bench's JSON with the table to bench/results.json.
 *
 * Run: `npm run bench` (about 10 minutes); `BENCH_QUICK=1` for a smoke run of a few
 * seconds per bench (indicative figures only); `BENCH_ONLY=latency,agents` for a subset. Each
 * bench's own variables (LATENCY_SECONDS, AGENTS, AGENTS_SECONDS, DRIFT_SECONDS, BUDGETS …) pass
 * through (PHASE_OUTAGE_SECONDS …). Exits 1 when a bench crashed or printed no JSON; a missed goal is a finding, not a
 * failure. Never part of `npm test`.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- each bench's JSON, read field by field */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { log, quick } from './support';

/** One line of the table. */
interface Row {
  benchmark: string;
  sdk: string;
  baseline: string;
  ratio: string;
  goal: string;
  met: boolean | null;
}

/** A benchmark: its file, node flags, and how its JSON becomes rows. */
interface Bench {
  name: string;
  file: string;
  nodeFlags?: string[];
  rows: (result: any) => Row[];
}

const ms = (value: number) => `${value} ms`;
const times = (value: number) => `${value}×`;

function latencyRows(result: any): Row[] {
  const rows: Row[] = [];
  const writers = [
    { frames: 'SDK pulse', rates: result },
    { frames: 'Go-written', rates: result.goWritten },
  ];
  for (const { frames, rates } of writers) {
    for (const rate of ['realistic', 'fast'] as const) {
      if (rates?.[rate] === undefined) continue;
      const { tempoBpm } = rates[rate];
      for (const mode of ['sameFrames', 'alternating'] as const) {
        const m = rates[rate][mode];
        const sameFrames = mode === 'sameFrames';
        rows.push({
          benchmark: `P1 beat$ latency ${tempoBpm} BPM, ${frames} frames (${sameFrames ? 'same frames' : '(info) alternating rounds'})`,
          sdk: `p50 ${m.client.p50Ms} / p99 ${m.client.p99Ms} ms`,
          baseline: `raw nats.js p50 ${m.raw.p50Ms} / p99 ${m.raw.p99Ms} ms`,
          ratio:
            `p50 ${times(m.p50Ratio)}, p99 ${m.p99ExtraMs >= 0 ? '+' : ''}${m.p99ExtraMs} ms` +
            (sameFrames ? '' : `; handlers +${m.handlerExtraMs} ms → ${times(m.impliedP50Ratio)}`),
          goal: sameFrames ? 'p50 ≤ 1.25×, p99 ≤ raw + 0.3 ms' : '—',
          met: sameFrames ? m.met : null,
        });
      }
    }
  }
  return rows;
}

function driftRows(result: any): Row[] {
  const { engine, setIntervalBaseline: baseline } = result;
  return [
    {
      benchmark: `P2 synthetic drift ${result.tempoBpm} BPM, ${result.seconds} s`,
      sdk: `last-100 mean error ${ms(engine.meanErrorLast100Ms)} (|mean| ${ms(engine.meanAbsErrorLast100Ms)}), missed ${engine.missed}`,
      baseline: `setInterval last-100 mean error ${ms(baseline.meanErrorLast100Ms)}`,
      ratio: `first-100 ${ms(engine.meanErrorFirst100Ms)} → last-100 ${ms(engine.meanErrorLast100Ms)}`,
      goal: 'mean |error| of the last 100 ≤ 1 ms',
      met: engine.meanAbsErrorLast100Ms <= 1 && engine.missed === 0,
    },
  ];
}

function claimsRows(result: any): Row[] {
  return [
    {
      benchmark: 'P3 signed claims vs raw nats.js + node:crypto',
      sdk: `${result.claimsPerSecond} claims/s`,
      baseline: `${result.rawNatsPerSecond} /s`,
      ratio: times(result.vsRawNats),
      goal: '≥ 0.8×',
      met: result.goals.atLeast0_8xRawNats,
    },
    {
      benchmark: 'P3 signed claims vs tweetnacl signing alone',
      sdk: `${result.claimsPerSecond} claims/s`,
      baseline: `${result.tweetnaclSignsPerSecond} signs/s`,
      ratio: times(result.vsTweetnacl),
      goal: '≥ 50×',
      met: result.goals.atLeast50xTweetnacl,
    },
    {
      benchmark: 'P3 (info) claims awaited one by one vs raw',
      sdk: `${result.awaitedEach.claimsPerSecond} claims/s`,
      baseline: `${result.awaitedEach.rawNatsPerSecond} /s`,
      ratio: times(result.awaitedEach.vsRawNats),
      goal: '—',
      met: null,
    },
  ];
}

function budgetsRows(result: any): Row[] {
  const { shared, naive } = result;
  const perBeat = Math.max(shared.msPerBeatNoExpiry.mean, shared.msPerBeatFewExpiries.mean);
  const naivePerBeat = Math.max(naive.msPerBeatNoExpiry.mean, naive.msPerBeatFewExpiries.mean);
  return [
    {
      benchmark: `P4 ${result.budgets} pending budgets: time per beat`,
      sdk: `${ms(shared.msPerBeatNoExpiry.mean)} (no expiry), ${ms(shared.msPerBeatFewExpiries.mean)} (${shared.expiredPerBeat} expire)`,
      baseline: `naive ${ms(naive.msPerBeatNoExpiry.mean)}, ${ms(naive.msPerBeatFewExpiries.mean)}`,
      ratio: times(Math.round((perBeat / naivePerBeat) * 10000) / 10000),
      goal: '≤ 0.1 ms per beat',
      met: perBeat <= 0.1,
    },
    {
      benchmark: `P4 ${result.budgets} pending budgets: heap`,
      sdk: `${shared.heapBytesPerBudget} B/budget`,
      baseline: `naive ${naive.heapBytesPerBudget} B/budget`,
      ratio: times(result.sharedHeapVsNaive),
      goal: '≤ 0.6× heap',
      met: result.gcExposed === true && result.sharedHeapVsNaive <= 0.6,
    },
  ];
}

function agentsRows(result: any): Row[] {
  return (['dedicated', 'shared'] as const).map((mode) => {
    const { raw, sdk, p99Ratio, goals } = result[mode];
    return {
      benchmark: `P5 ${result.agents} agents, ${result.tempoBpm} BPM, ${result.seconds} s (${mode === 'dedicated' ? 'a connection each' : 'one shared connection'})`,
      sdk: `p50 ${sdk.latency.p50Ms} / p99 ${sdk.latency.p99Ms} ms; synthetic ${sdk.synthetic}, missed ${sdk.missed}, not delivered ${sdk.notDelivered}, false degradations ${sdk.falseDegradations}, claims ${sdk.claimsEmitted} (${sdk.claimsFailed} failed)`,
      baseline: `raw p50 ${raw.latency.p50Ms} / p99 ${raw.latency.p99Ms} ms; not delivered ${raw.notDelivered}, claims ${raw.claimsEmitted}`,
      ratio: `p99 ${times(p99Ratio)}`,
      goal: 'p99 ≤ 1.2×, 0 missed, 0 false degradations',
      met: goals.met,
    };
  });
}

function signRows(result: any): Row[] {
  return [
    {
      benchmark: '(info) Ed25519 sign, node:crypto vs tweetnacl',
      sdk: `${result.nodeCrypto.signPerSec} signs/s, ${result.nodeCrypto.verifyPerSec} verifies/s`,
      baseline: `${result.tweetnacl.signPerSec} signs/s, ${result.tweetnacl.verifyPerSec} verifies/s`,
      ratio: `sign ${times(result.ratio.sign)}, verify ${times(result.ratio.verify)}`,
      goal: '—',
      met: null,
    },
  ];
}

function judgeRows(result: any): Row[] {
  const cold = result.coldAt10PerSecond;
  return [
    {
      benchmark: '(info) frame judge at 10 frames/s (cold), per call',
      sdk: `judge on SDK pulse frames ${cold['judge-sdk'].medianUs} µs, on Go-written ${cold['judge-go'].medianUs} µs`,
      baseline: `JSON.parse ${cold['json-parse'].medianUs} µs`,
      ratio: `+${result.ratios.coldJudgeSdkMinusJsonParseUs} µs, +${result.ratios.coldJudgeGoMinusJsonParseUs} µs`,
      goal: '—',
      met: null,
    },
  ];
}

function phaseRows(result: any): Row[] {
  const followers: any[] = result.followers;
  const figures = (kind: string) =>
    followers
      .filter((f) => f.kind === kind)
      .map((f) => `${f.name} p50 ${f.errorMs.p50Ms} / p99 ${f.errorMs.p99Ms}`)
      .join('; ');
  const plannedFigures = (kind: string) =>
    followers
      .filter((f) => f.kind === kind)
      .map((f) => `${f.name} p50 ${f.plannedErrorMs.p50Ms} / p99 ${f.plannedErrorMs.p99Ms}`)
      .join('; ');
  const spread = (s: any) => `spread p50 ${s.p50Ms} / p99 ${s.p99Ms} ms`;
  return [
    {
      benchmark: `P6 synthetic beats vs the pulse's grid, ${result.outageSeconds} s outage, ${result.tempoBpm} BPM, 0–${result.sendJitterMs} ms send jitter`,
      sdk: `${figures('sdk')} ms; ${spread(result.spread.sdk)}`,
      baseline: `raw min-filter ${figures('raw-min')} ms; ${spread(result.spread.baseline)}; control (timers alone on the exact grid) ${figures('timer')} ms`,
      ratio: `previous design (last arrival): ${figures('raw-last')} ms; ${spread(result.spread.previous)}`,
      goal: 'p99 ≤ baseline + 1 ms, spread p99 ≤ 2 ms',
      met: result.goals.p99WithinBaselinePlus1Ms && result.goals.spreadP99AtMost2Ms,
    },
    {
      benchmark: 'P6 (info) spread of one quiet and one busy follower of each kind',
      sdk: spread(result.pairSpread.sdk),
      baseline: spread(result.pairSpread.baseline),
      ratio: `previous design: ${spread(result.pairSpread.previous)}`,
      goal: '—',
      met: null,
    },
    {
      benchmark: 'P6 (info) the same, of each follower’s plan (timer lateness left out)',
      sdk: `${plannedFigures('sdk')} ms; ${spread(result.plannedSpread.sdk)}`,
      baseline: `raw min-filter ${plannedFigures('raw-min')} ms; ${spread(result.plannedSpread.baseline)}`,
      ratio: `previous design: ${plannedFigures('raw-last')} ms; ${spread(result.plannedSpread.previous)}`,
      goal: '—',
      met: null,
    },
    {
      benchmark: 'P6 the pulse back on its epoch',
      sdk: followers
        .filter((f) => f.kind === 'sdk')
        .map(
          (f) =>
            `${f.name} ${f.afterReturn.ok ? 'seamless' : (f.afterReturn.problems as string[]).join(', ')}`,
        )
        .join('; '),
      baseline: '—',
      ratio: '—',
      goal: 'every index once, in order, no reset, no gap',
      met: result.goals.returnSeamless,
    },
  ];
}

const benches: Bench[] = [
  { name: 'latency', file: 'beat-latency.ts', rows: latencyRows },
  { name: 'drift', file: 'drift.ts', rows: driftRows },
  { name: 'claims', file: 'claims.ts', rows: claimsRows },
  { name: 'budgets', file: 'budgets.ts', nodeFlags: ['--expose-gc'], rows: budgetsRows },
  { name: 'agents', file: 'agents.ts', rows: agentsRows },
  { name: 'sign', file: 'sign.ts', rows: signRows },
  { name: 'judge', file: 'judge.ts', rows: judgeRows },
  { name: 'phase', file: 'phase.ts', rows: phaseRows },
];

/** Runs one bench in a child node (with tsx), its logs passed through; resolves its JSON. */
function runBench(bench: Bench): Promise<unknown> {
  const args = [
    ...(bench.nodeFlags ?? []),
    '--import',
    'tsx',
    // The SDK as built (dist/cjs), the code users run: see built-sdk.mjs.
    '--import',
    pathToFileURL(join(__dirname, 'built-sdk.mjs')).href,
    join(__dirname, bench.file),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`${bench.file} exited with code ${code}, signal ${signal}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(new Error(`${bench.file} printed no single JSON document: ${stdout.slice(0, 200)}`));
      }
    });
  });
}

function table(rows: readonly Row[]): string {
  const header = ['benchmark', 'SDK', 'baseline', 'ratio', 'goal', 'met?'];
  const cells = rows.map((row) => [
    row.benchmark,
    row.sdk,
    row.baseline,
    row.ratio,
    row.goal,
    row.met === null ? 'info' : row.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((title, i) =>
    Math.max(title.length, ...cells.map((line) => line[i].length)),
  );
  const format = (line: string[]) =>
    `| ${line.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  return [
    format(header),
    `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`,
    ...cells.map(format),
  ].join('\n');
}

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY?.split(',').map((name) => name.trim());
  const selected = benches.filter((bench) => !only || only.includes(bench.name));
  const startedAt = new Date().toISOString();
  const results: Record<string, unknown> = {};
  const failures: Record<string, string> = {};
  const rows: Row[] = [];
  for (const bench of selected) {
    log(`running ${bench.file}${quick ? ' (quick)' : ''}`);
    const started = Date.now();
    try {
      const result = await runBench(bench);
      results[bench.name] = result;
      rows.push(...bench.rows(result));
    } catch (error) {
      failures[bench.name] = error instanceof Error ? error.message : String(error);
      rows.push({
        benchmark: bench.name,
        sdk: 'crashed',
        baseline: '',
        ratio: '',
        goal: '',
        met: false,
      });
      log(`${bench.file} failed: ${failures[bench.name]}`);
    }
    log(`${bench.file} took ${Math.round((Date.now() - started) / 1000)} s`);
  }
  const summary = {
    startedAt,
    finishedAt: new Date().toISOString(),
    quick,
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    table: rows,
    goalsMet: rows.every((row) => row.met !== false),
    failures,
    results,
  };
  writeFileSync(join(__dirname, 'results.json'), `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`${table(rows)}\n\nJSON summary written to bench/results.json\n`);
  process.stdout.write(
    `${JSON.stringify({ goalsMet: summary.goalsMet, quick, failures, table: rows }, null, 2)}\n`,
  );
  if (Object.keys(failures).length > 0) process.exitCode = 1;
}

void main();
