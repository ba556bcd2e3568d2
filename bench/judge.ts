/**
 * Cost of the frame judge per call, in µs, on frames of both writers: "cold-ish" (one call of
 * each kind every 100 ms, as a pulse at 10 frames/s gives them, so V8 never warms the code) and
 * hot (a tight loop).
 *
 * Kinds: `json-parse` (the baseline: what a raw nats.js subscriber does with the payload),
 * `judge-sdk` (judgeFrame on frames as the SDK pulse writes them), `judge-go` (on frames as the
 * Go pulse writes them: its struct's field order, an RFC3339Nano `deadline_at`), and the parse
 * step alone on the parsed Go-written frames: `parse-fast` (the judge's fast reader,
 * frame-check.ts) against `parse-zod` (the schema).
 *
 * Run: npm run bench:judge (prints JSON; COLD_CALLS, HOT_CALLS; BENCH_QUICK=1: fewer)
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { BeatFrameSchema } from '../lib/protocol/beat-frame';
import { fastParseBeatFrame } from '../lib/protocol/frame-check';
import { judgeFrame, type JudgeContext } from '../lib/protocol/judge';
import { windowIdFor } from '../lib/protocol/windows';
import { goWrittenFrame, sized } from './support';

const CLUSTER = 'chorus-dev';
const COLD_CALLS = Math.round(sized('COLD_CALLS', 50, 10));
const HOT_CALLS = Math.round(sized('HOT_CALLS', 20000, 5000));
const T0 = 1_700_000_000_000;

const context: JudgeContext = {
  clusterId: CLUSTER,
  acceptLegacyFrames: false,
  maxClockSkewMs: 60000,
  physicalNow: () => T0,
  legacy: () => ({ beatsPerBar: 4, tempoBpm: 120, hlc: '018bcfe56800:0000:agent' }),
};

/** A frame as the SDK pulse writes it. */
function frameText(beatIndex: number): string {
  return JSON.stringify({
    type: 'backbeat.beatframe.v1',
    cluster_id: CLUSTER,
    pulse_id: 'pulse-a',
    beat_index: beatIndex,
    downbeat: beatIndex % 4 === 0,
    phase: 'work',
    hlc: `${(T0 + beatIndex * 100).toString(16).padStart(12, '0')}:0000:pulse-a`,
    deadline_at: new Date(T0 + (beatIndex + 1) * 100).toISOString(),
    tempo_bpm: 600,
    window_id: windowIdFor(CLUSTER, beatIndex, 4),
    beats_per_bar: 4,
  });
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const count = Math.max(COLD_CALLS, HOT_CALLS);
const sdk = Array.from({ length: count }, (_, i) => encoder.encode(frameText(i)));
const go = sdk.map(goWrittenFrame);
const objects = go.map((payload) => JSON.parse(decoder.decode(payload)) as unknown);

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench set-up is wrong: ${what}`);
}
check(judgeFrame(sdk[0], undefined, context).ok, 'SDK frames must be accepted');
check(judgeFrame(go[0], undefined, context).ok, 'Go-written frames must be accepted');
check(fastParseBeatFrame(objects[0]) !== undefined, 'the fast reader takes Go-written frames');
check(
  go.slice(0, 10).some((payload) => /"deadline_at":"[^"]+\.\d{9}Z"/.test(decoder.decode(payload))),
  'Go deadlines have up to 9 fraction digits',
);

const kinds: Record<string, (i: number) => unknown> = {
  'json-parse': (i): unknown => JSON.parse(decoder.decode(sdk[i])),
  'judge-sdk': (i) => judgeFrame(sdk[i], undefined, context),
  'judge-go': (i) => judgeFrame(go[i], undefined, context),
  'parse-fast': (i) => fastParseBeatFrame(objects[i]),
  'parse-zod': (i) => BeatFrameSchema.safeParse(objects[i]),
};
const names = Object.keys(kinds);

const micros = (start: number) => (performance.now() - start) * 1000;
const round = (x: number) => Math.round(x * 100) / 100;
function summary(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return {
    medianUs: round(at(0.5)),
    p75Us: round(at(0.75)),
    p90Us: round(at(0.9)),
    maxUs: round(at(1)),
  };
}

async function main(): Promise<void> {
  const cold: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  for (let i = 0; i < COLD_CALLS; i++) {
    await sleep(100);
    // Rotate the order so that no kind always runs right after the event loop wakes.
    for (let k = 0; k < names.length; k++) {
      const name = names[(i + k) % names.length];
      const start = performance.now();
      kinds[name](i);
      cold[name].push(micros(start));
    }
  }
  const hot: Record<string, { meanUs: number }> = {};
  for (const name of names) {
    const run = kinds[name];
    for (let i = 0; i < 2000; i++) run(i); // warm-up
    const start = performance.now();
    for (let i = 0; i < HOT_CALLS; i++) run(i);
    hot[name] = { meanUs: round(micros(start) / HOT_CALLS) };
  }
  const coldSummary = Object.fromEntries(names.map((name) => [name, summary(cold[name])]));
  const median = (name: string) => coldSummary[name].medianUs;
  console.log(
    JSON.stringify(
      {
        bench: 'judge',
        node: process.version,
        coldAt10PerSecond: { calls: COLD_CALLS, ...coldSummary },
        hot: { calls: HOT_CALLS, ...hot },
        ratios: {
          coldJudgeSdkMinusJsonParseUs: round(median('judge-sdk') - median('json-parse')),
          coldJudgeGoMinusJsonParseUs: round(median('judge-go') - median('json-parse')),
        },
      },
      null,
      2,
    ),
  );
}

void main();
