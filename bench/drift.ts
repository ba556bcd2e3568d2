/**
 * Drift of the synthetic clock on real timers: the beat engine in synthetic mode at 1200 BPM
 * (50 ms period) against a `setInterval(50)` baseline, both running in the same process at the
 * same time. Each beat's error is its emission time (performance.now) minus its ideal due time
 * on the absolute schedule `t0 + k × 50 ms`; jitter is |interval − 50 ms| between consecutive beats.
 *
 * Run: `npm run bench:drift` (60 s), or `DRIFT_SECONDS=5 npm run bench:drift` (BENCH_QUICK=1: 3 s).
 * Goal: engine mean error of the last 100 beats ≤ 1 ms, and no growth from the first 100.
 */
import { performance } from 'node:perf_hooks';
import { asyncScheduler } from 'rxjs';
import { BeatEngine } from '../lib/beats/engine';
import { HybridLogicalClock } from '../lib/clock/hlc';
import { sized } from './support';

const TEMPO_BPM = 1200;
const PERIOD_MS = 60000 / TEMPO_BPM;
const seconds = process.argv[2] ? Number(process.argv[2]) : sized('DRIFT_SECONDS', 60, 3);
if (!(seconds > 0)) throw new RangeError(`DRIFT_SECONDS must be > 0, got ${seconds}`);
const durationMs = seconds * 1000;

interface Summary {
  beats: number;
  missed: number;
  meanErrorFirst100Ms: number;
  meanErrorLast100Ms: number;
  meanAbsErrorLast100Ms: number;
  p50ErrorMs: number;
  maxAbsErrorMs: number;
  p50JitterMs: number;
  p99JitterMs: number;
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Errors and jitter of emission times against their ideal due times. */
function summarize(emitted: readonly number[], ideal: readonly number[], missed: number): Summary {
  const errors = emitted.map((time, i) => time - ideal[i]);
  const jitter = emitted.slice(1).map((time, i) => Math.abs(time - emitted[i] - PERIOD_MS));
  const round = (value: number) => Math.round(value * 1000) / 1000;
  return {
    beats: emitted.length,
    missed,
    meanErrorFirst100Ms: round(mean(errors.slice(0, 100))),
    meanErrorLast100Ms: round(mean(errors.slice(-100))),
    meanAbsErrorLast100Ms: round(mean(errors.slice(-100).map(Math.abs))),
    p50ErrorMs: round(percentile(errors, 50)),
    maxAbsErrorMs: round(Math.max(...errors.map(Math.abs))),
    p50JitterMs: round(percentile(jitter, 50)),
    p99JitterMs: round(percentile(jitter, 99)),
  };
}

async function main(): Promise<void> {
  const engine = new BeatEngine({
    clusterId: 'bench',
    agentId: 'drift',
    jitterToleranceMs: 100,
    beatsPerBar: 4,
    fallbackTempoBpm: TEMPO_BPM,
    clock: new HybridLogicalClock('drift'),
    scheduler: asyncScheduler,
  });
  const engineTimes: number[] = [];
  const engineIdeal: number[] = [];
  const intervalTimes: number[] = [];
  const intervalIdeal: number[] = [];

  const t0 = performance.now();
  // Unreachable at once: synthetic beat k (index k) is due at t0 + k × period.
  engine.beats$.subscribe((beat) => {
    engineTimes.push(performance.now());
    engineIdeal.push(t0 + beat.beat_index * PERIOD_MS);
  });
  engine.markUnreachable();
  let ticks = 0;
  const interval = setInterval(() => {
    ticks++;
    intervalTimes.push(performance.now());
    intervalIdeal.push(t0 + ticks * PERIOD_MS);
  }, PERIOD_MS);

  await new Promise((resolve) => setTimeout(resolve, durationMs));
  clearInterval(interval);
  const missed = engine.state.counters.missed;
  engine.stop();

  console.log(
    JSON.stringify(
      {
        bench: 'drift',
        tempoBpm: TEMPO_BPM,
        periodMs: PERIOD_MS,
        seconds,
        node: process.version,
        engine: summarize(engineTimes, engineIdeal, missed),
        setIntervalBaseline: summarize(intervalTimes, intervalIdeal, 0),
      },
      null,
      2,
    ),
  );
}

void main();
