/**
 * What the benchmarks share: quick-mode sizes, latency summaries, the one-JSON-document output,
 * logs on stderr, and a pulse connection that stamps each frame's publish time.
 */
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from 'nats';

/** `BENCH_QUICK=1`: a few seconds per benchmark, for a smoke run; figures are then indicative. */
export const quick = process.env.BENCH_QUICK === '1';

/**
 * A size or duration: the environment variable `name` when set, else `quickValue` in quick mode,
 * else `fullValue`.
 *
 * @example
 * const seconds = sized('LATENCY_SECONDS', 45, 4);
 * @param name The environment variable that overrides it.
 * @param fullValue The value of a full run.
 * @param quickValue The value of a quick run.
 * @return A positive number.
 * @throws RangeError when the variable is set but is not a positive number.
 */
export function sized(name: string, fullValue: number, quickValue: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return quick ? quickValue : fullValue;
  const value = Number(text);
  if (!(value > 0)) throw new RangeError(`${name} must be a positive number, got ${text}`);
  return value;
}

/** A progress line for the person running the bench: stderr, so stdout stays one JSON document. */
export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** Prints the bench's result: the only thing it writes on stdout. */
export function printResult(result: unknown): void {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

/** Rounds ms to the µs. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Latency figures in ms. */
export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * The nearest-rank percentile of sorted values.
 *
 * @param sorted Values in ascending order.
 * @param p From 0 to 100.
 * @return The value, NaN when there are none.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

/** Count, mean and percentiles of latencies in ms. */
export function summarize(values: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  const list = Array.from(sorted);
  const mean = list.reduce((sum, value) => sum + value, 0) / Math.max(1, list.length);
  return {
    count: list.length,
    meanMs: roundMs(mean),
    p50Ms: roundMs(percentile(list, 50)),
    p90Ms: roundMs(percentile(list, 90)),
    p99Ms: roundMs(percentile(list, 99)),
    maxMs: roundMs(percentile(list, 100)),
  };
}

const BEAT_INDEX_KEY = Buffer.from('"beat_index":');

/** The `beat_index` of a frame's JSON bytes, found without parsing them; -1 when absent. */
function beatIndexOf(payload: Uint8Array): number {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  let at = bytes.indexOf(BEAT_INDEX_KEY);
  if (at < 0) return -1;
  at += BEAT_INDEX_KEY.length;
  let index = 0;
  for (let digit = bytes[at]; digit >= 0x30 && digit <= 0x39; digit = bytes[++at]) {
    index = index * 10 + (digit - 0x30);
  }
  return index;
}

/**
 * A view of `connection` whose `publish` records `performance.now()` just before handing each
 * frame to nats.js, by the frame's `beat_index`: give it to `startPulse({ connection })` and
 * every subscriber in this process can measure publish→delivery latency on the same clock.
 *
 * @example
 * const sentAt = new Map<number, number>();
 * const pulse = await startPulse({ connection: stampingConnection(nc, sentAt), clusterId });
 * @param connection The pulse's real connection.
 * @param sentAt Filled with beat index → publish time (ms, `performance.now()`).
 * @return The stamping view; everything but `publish` is the connection's own.
 */
export function stampingConnection(
  connection: NatsConnection,
  sentAt: Map<number, number>,
): NatsConnection {
  const publish: NatsConnection['publish'] = (subject, payload, options) => {
    const now = performance.now();
    connection.publish(subject, payload, options);
    if (payload instanceof Uint8Array) sentAt.set(beatIndexOf(payload), now);
  };
  return new Proxy(connection, {
    get(target, property, receiver) {
      if (property === 'publish') return publish;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The Go pulse's BeatFrame struct, field by field in its declaration order: Go's
 * `encoding/json` writes a struct's fields in that order, `beats_per_bar` included (no
 * `omitempty`).
 */
const GO_FIELD_ORDER = [
  'type',
  'cluster_id',
  'pulse_id',
  'beat_index',
  'downbeat',
  'phase',
  'hlc',
  'deadline_at',
  'tempo_bpm',
  'window_id',
  'beats_per_bar',
] as const;

/**
 * A Go `time.Time` as `encoding/json` writes it (RFC3339Nano): UTC, the fraction to the
 * nanosecond with trailing zeros cut, so up to 9 digits (a deadline taken from Go's clock almost
 * always has 9). The SDK pulse's frame carries whole ms; the nanoseconds below the ms are made up
 * from the beat index, so that the text varies from frame to frame as a real clock's does.
 */
function rfc3339Nano(wallMs: number, beatIndex: number): string {
  const iso = new Date(wallMs).toISOString(); // '2026-12-05T13:26:16.123Z'
  const belowMs = ((beatIndex * 104729) % 999_999) + 1;
  const fraction = `${iso.slice(20, 23)}${String(belowMs).padStart(6, '0')}`.replace(/0+$/, '');
  return `${iso.slice(0, 19)}${fraction === '' ? '' : `.${fraction}`}Z`;
}

/**
 * The frame of `payload` (the SDK pulse's, unsigned) as the Go pulse writes it: the same values,
 * its fields in {@link GO_FIELD_ORDER}, `deadline_at` in RFC3339Nano.
 *
 * @example
 * goWrittenFrame(encoder.encode(JSON.stringify(frame))); // …"deadline_at":"2026-12-05T13:26:16.123104729Z"…
 * @param payload A BeatFrame's JSON bytes.
 * @return The same frame's bytes as the Go pulse writes them.
 */
export function goWrittenFrame(payload: Uint8Array): Uint8Array {
  const frame = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
  const deadline = rfc3339Nano(Date.parse(String(frame.deadline_at)), Number(frame.beat_index));
  const written: Record<string, unknown> = {};
  for (const field of GO_FIELD_ORDER) {
    written[field] = field === 'deadline_at' ? deadline : (frame[field] ?? 4);
  }
  return new TextEncoder().encode(JSON.stringify(written));
}
