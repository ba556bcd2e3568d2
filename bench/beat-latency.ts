/**
 * `beat$` latency against a raw nats.js subscriber on the same frames: a dev pulse (startPulse,
 * on its own connection) publishes frames; a raw nats.js subscriber (its own connection,
 * `JSON.parse` of each payload: the fair minimum work) and a client (`createClient(…).beat$`,
 * its own connection) in the same process each stamp when a frame reaches them. Latency is
 * delivery minus publish, both on `performance.now()` (the pulse's connection stamps each frame
 * as it hands it to nats.js).
 *
 * Each rate is measured two ways:
 * - `sameFrames` (the goals are judged here, on the same frames in the same run): both sides
 *   hear every frame, in rounds where each side subscribes first in turn (the server writes to
 *   the first subscriber first, and the other waits for that write). They share one event loop, so for each frame one side runs after the other
 *   and waits for it: their figures are `alone` latencies, from which the time the other side
 *   held the loop (from its connection's read of the frame, through nats.js's parsing and its
 *   callback, when that came between this frame's publish and this side's read) is taken out
 *   (`rawAllFrames`/`clientAllFrames` keep it); `firstServed` keeps, for each side, only the
 *   frames it read first;
 * - `alternating` (a cross-check): rounds in which only one side listens, raw and client in
 *   turn, so that neither waits for nor warms the event loop for the other. Its rounds hear
 *   different frames, and the transport's own p50 (publish to the NATS callback, before any SDK
 *   code) moves by about 0.1 ms from round to round on this machine, more than the whole goal
 *   margin: `transport` shows that spread, and `impliedP50Ratio` compares the handlers' times
 *   (raw: decode and JSON.parse; client: judge, engine, delivery) over raw's latency, which that
 *   drift leaves out. Its `met` is reported, not a goal.
 *
 * Two rates: realistic (600 BPM, 10 frames/s, where V8 never warms the hot path up) and fast
 * (6000 BPM, the protocol's maximum tempo), each on the frames of two writers: the SDK's own
 * pulse (`startPulse`: fields in the protocol table's order, `deadline_at` with 3 fraction
 * digits) and frames as the Go pulse writes them (see {@link goWrittenFrame}: `encoding/json`
 * of its struct, `deadline_at` as RFC3339Nano with up to 9 fraction digits). Splits of the
 * client's path: NATS callback entry → the engine (FrameIntake.receive: judge) → delivery to a
 * `beat$` subscriber (engine, rxjs).
 *
 * Goals, on both writers' frames: client p50 ≤ 1.25 × raw p50, client p99 ≤ raw p99 + 0.3 ms.
 * Run: `npm run bench:latency`; LATENCY_SECONDS (default 45) and LATENCY_FAST_SECONDS
 * (default 20) set the durations, NATS_URL an existing server; BENCH_QUICK=1 a few seconds each.
 * LATENCY_CONTROL=1 puts a second raw subscriber in the client's place: the ratios such an A/A
 * run gives show how finely this machine can tell two equal subscribers apart.
 * LATENCY_PROFILE=1 adds `profile`: the inclusive time of each step of the client's path (the
 * wrappers cost a little themselves, so latency figures of such a run are not the headline).
 */
import { performance } from 'node:perf_hooks';
import { connect, type NatsConnection } from 'nats';
import { Parser } from 'nats/lib/nats-base-client/parser';
import { BeatEngine } from '../lib/beats/engine';
import { FrameIntake } from '../lib/beats/frame-intake';
import { SharedBudgetIndex } from '../lib/beats/budget-index';
import { SyntheticClock } from '../lib/beats/synthetic-clock';
import { createClient } from '../lib/client';
import { ClientSnapshots } from '../lib/observability/snapshots';
import { RecentSummary } from '../lib/observability/summary';
import { beatSubject } from '../lib/protocol/subjects';
import { startPulse } from '../lib/pulse/pulse';
import { startNatsServer, stopAllNatsServers } from '../spec/support/nats-server';
import {
  goWrittenFrame,
  log,
  printResult,
  roundMs,
  sized,
  sleep,
  stampingConnection,
  summarize,
  type LatencySummary,
} from './support';

const REALISTIC_BPM = 600;
const FAST_BPM = 6000;
/** Frames left out at the start of each rate: connection set-up and the first timeline. */
const WARM_UP_FRAMES = 3;
const P50_RATIO_GOAL = 1.25;
const P99_EXTRA_GOAL_MS = 0.3;
const profiling = process.env.LATENCY_PROFILE === '1';
/** LATENCY_CONTROL=1: a second raw subscriber stands in for the client (an A/A run). */
const control = process.env.LATENCY_CONTROL === '1';
/**
 * Alternating rounds per side (each side listens for seconds / 2 / ALTERNATIONS at a time), in
 * the order raw, client, client, raw, raw, client…: the transport's own latency drifts from
 * round to round (tens of µs at p50 on this machine, before any SDK code runs), and many short
 * rounds in a balanced order keep that drift out of the comparison.
 */
const ALTERNATIONS = 8;
/** Shortest alternating round (s): fewer rounds when the run is short (BENCH_QUICK). */
const MIN_ROUND_SECONDS = 1.5;

/**
 * When nats.js last began to read a chunk from a socket (any connection's parser): a callback
 * reads it to learn when the work that led to it began.
 */
let lastRead = 0;

/** Stamps {@link lastRead}: every connection's parser shares this prototype method. */
function stampReads(): void {
  const parse = Parser.prototype.parse;
  Parser.prototype.parse = function (this: Parser, buf: Uint8Array): void {
    lastRead = performance.now();
    parse.call(this, buf);
  };
}

/** One side's times for one frame (ms, performance.now()). */
interface Arrival {
  /** Its connection began to read the chunk that carried it (nats.js's parser). */
  read: number;
  /** The NATS callback began. */
  entry: number;
  /** The frame reached the measuring code (parsed, or delivered on `beat$`). */
  delivered: number;
  /** The NATS callback returned. */
  exit: number;
}

/** Times of the client's path through its hot functions, for the frame being handled now. */
const clientPath = { read: 0, receiveEntry: 0, engineEntry: 0 };

/**
 * Wraps the hot path's entry points to stamp them. Both are prototype methods that the client
 * calls on its own instances, so wrapping them measures the real client without changing it.
 */
function instrumentClientPath(): void {
  const receive = FrameIntake.prototype.receive;
  FrameIntake.prototype.receive = function (this: FrameIntake, ...args) {
    clientPath.receiveEntry = performance.now();
    clientPath.read = lastRead;
    return receive.apply(this, args);
  };
  const frame = BeatEngine.prototype.frame;
  BeatEngine.prototype.frame = function (this: BeatEngine, ...args) {
    clientPath.engineEntry = performance.now();
    return frame.apply(this, args);
  };
}

/** Inclusive durations (ms) of each wrapped method, by label. */
const profile = new Map<string, number[]>();

type AnyMethod = (...args: unknown[]) => unknown;

/** Wraps `prototype[name]` to record the duration of every call under `label`. */
function timeMethod(prototype: object, name: string, label: string): void {
  const original = Reflect.get(prototype, name) as AnyMethod;
  if (typeof original !== 'function') {
    log(`profile: no method ${name} (${label}) in this build; not profiled`);
    return;
  }
  const samples: number[] = [];
  profile.set(label, samples);
  Reflect.set(prototype, name, function (this: unknown, ...args: unknown[]): unknown {
    const started = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      samples.push(performance.now() - started);
    }
  });
}

/** Wraps every step of the client's beat path (private methods too: they are prototype methods). */
function profileClientPath(): void {
  timeMethod(FrameIntake.prototype, 'receive', 'FrameIntake.receive (judge + engine)');
  timeMethod(BeatEngine.prototype, 'frame', 'BeatEngine.frame');
  timeMethod(BeatEngine.prototype, 'fresh', 'BeatEngine.fresh (staleness)');
  timeMethod(BeatEngine.prototype, 'placeOnGrid', 'BeatEngine.placeOnGrid');
  timeMethod(BeatEngine.prototype, 'mergeStamp', 'BeatEngine.mergeStamp');
  timeMethod(SyntheticClock.prototype, 'watchSilence', 'SyntheticClock.watchSilence');
  timeMethod(BeatEngine.prototype, 'deliver', 'BeatEngine.deliver (subscribers included)');
  timeMethod(SharedBudgetIndex.prototype, 'next', 'SharedBudgetIndex.next');
  timeMethod(ClientSnapshots.prototype, 'refresh', 'ClientSnapshots.refresh (health)');
  timeMethod(RecentSummary.prototype, 'record', 'RecentSummary.record');
}

/** Median and p90 of each profiled step, in µs, with its number of calls. */
function profileSummary(): Record<string, { calls: number; p50Us: number; p90Us: number }> {
  const result: Record<string, { calls: number; p50Us: number; p90Us: number }> = {};
  for (const [label, samples] of profile) {
    const summary = summarize(samples);
    result[label] = {
      calls: summary.count,
      p50Us: Math.round(summary.p50Ms * 1000),
      p90Us: Math.round(summary.p90Ms * 1000),
    };
    samples.length = 0;
  }
  return result;
}

/**
 * Latency of a frame less the time the other side held the event loop before this side could
 * read it: from the other side's read of its own copy (nats.js parsing, its callback) to its
 * callback's return. See the file comment.
 */
function aloneLatency(sentAt: number, mine: Arrival, other: Arrival | undefined): number {
  const latency = mine.delivered - sentAt;
  if (other === undefined || other.read >= mine.read) return latency;
  const heldFrom = Math.max(other.read, sentAt);
  return latency - Math.max(0, Math.min(other.exit, mine.read) - heldFrom);
}

/** Whose frames a round carries: the SDK's own pulse, or frames as the Go pulse writes them. */
type Writer = 'sdk' | 'go';

/**
 * A view of `connection` whose `publish` sends each frame as the Go pulse writes it
 * ({@link goWrittenFrame}); put it in front of the stamping view, so that the rewrite happens
 * before the publish time is taken.
 */
function goWritingConnection(connection: NatsConnection): NatsConnection {
  const publish: NatsConnection['publish'] = (subject, payload, options) => {
    connection.publish(
      subject,
      payload instanceof Uint8Array ? goWrittenFrame(payload) : payload,
      options,
    );
  };
  return new Proxy(connection, {
    get(target, property, receiver) {
      if (property === 'publish') return publish;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}

/** What one round recorded: publish times, and each side's arrivals, by beat index. */
interface Round {
  sentAt: Map<number, number>;
  raw: Map<number, Arrival>;
  client: Map<number, Arrival>;
  /** When each delivered frame entered the engine (the judge ends there). */
  engineAt: Map<number, number>;
  rejected: number;
}

let rounds = 0;

/**
 * The baseline: a raw nats.js subscriber on its own connection that decodes and parses each
 * payload (the fair minimum work) and records its times in `arrivals` (and its entry in
 * `entries`, for a control run in the client's place).
 */
async function rawSubscriber(
  url: string,
  clusterId: string,
  arrivals: Map<number, Arrival>,
  entries?: Map<number, number>,
): Promise<NatsConnection> {
  const decoder = new TextDecoder();
  const connection = await connect({ servers: url, name: 'raw-subscriber' });
  connection.subscribe(beatSubject(clusterId), {
    callback: (err, msg) => {
      const entry = performance.now();
      if (err) return;
      const frame = JSON.parse(decoder.decode(msg.data)) as { beat_index: number };
      const arrival = { read: lastRead, entry, delivered: performance.now(), exit: 0 };
      arrivals.set(frame.beat_index, arrival);
      entries?.set(frame.beat_index, entry);
      arrival.exit = performance.now();
    },
  });
  await connection.flush();
  return connection;
}

/** Who listens in a round; with both, `clientFirst` says who subscribes first. */
interface Sides {
  raw: boolean;
  client: boolean;
  clientFirst?: boolean;
}

/** What a round plays: the tempo, for how long, and whose frames. */
interface Play {
  tempoBpm: number;
  seconds: number;
  writer: Writer;
}

/**
 * A pulse at `tempoBpm` for `seconds`, writing as `writer` does, heard by the raw subscriber,
 * the client, or both (each on its own connection), on a cluster of its own.
 */
async function runRound(url: string, play: Play, sides: Sides): Promise<Round> {
  const { tempoBpm, seconds, writer } = play;
  const clusterId = `latency${tempoBpm}${writer}r${++rounds}`;
  const round: Round = {
    sentAt: new Map(),
    raw: new Map(),
    client: new Map(),
    engineAt: new Map(),
    rejected: 0,
  };
  const subscribeRaw = () => (sides.raw ? rawSubscriber(url, clusterId, round.raw) : null);
  const rawFirst = sides.clientFirst === true ? null : await subscribeRaw();
  // The control run: a second raw subscriber in the client's place (an A/A comparison).
  const controlConnection =
    sides.client && control
      ? await rawSubscriber(url, clusterId, round.client, round.engineAt)
      : null;
  const sdk =
    sides.client && !control
      ? createClient({ clusterId, agentId: 'latency-agent', natsUrl: url })
      : null;
  let delivered: Arrival | null = null;
  sdk?.beat$.subscribe((beat) => {
    const now = performance.now();
    if (beat.source !== 'pulse') return;
    delivered = {
      read: clientPath.read,
      entry: clientPath.receiveEntry,
      delivered: now,
      exit: 0,
    };
    round.client.set(beat.beat_index, delivered);
    round.engineAt.set(beat.beat_index, clientPath.engineEntry);
  });
  await sdk?.start();
  const rawConnection = sides.clientFirst === true ? await subscribeRaw() : rawFirst;
  // Where the client's NATS callback ends (its last step is a cheap health refresh).
  const intakeReceive = FrameIntake.prototype.receive;
  FrameIntake.prototype.receive = function (this: FrameIntake, ...args) {
    intakeReceive.apply(this, args);
    if (delivered) delivered.exit = performance.now();
    delivered = null;
  };

  const pulseConnection = await connect({ servers: url, name: 'pulse' });
  const stamping = stampingConnection(pulseConnection, round.sentAt);
  const pulse = await startPulse({
    connection: writer === 'go' ? goWritingConnection(stamping) : stamping,
    clusterId,
    pulseId: 'bench-pulse',
    tempoBpm,
  });
  await sleep(seconds * 1000);
  await pulse.stop();
  await sleep(300);
  FrameIntake.prototype.receive = intakeReceive;
  if (sdk) {
    round.rejected = Object.values(sdk.metrics().beats.rejected).reduce((a, b) => a + b, 0);
    await sdk.stop({ timeoutMs: 1000 });
  }
  await rawConnection?.close();
  await controlConnection?.close();
  await pulseConnection.close();
  return round;
}

/** The p50 (ms) from publish to the NATS callback of one side in one round: transport only. */
function transportP50(round: Round, side: 'raw' | 'client'): number {
  const arrivals = side === 'raw' ? round.raw : round.client;
  const delays = [...round.sentAt].flatMap(([index, sent]) => {
    const arrival = arrivals.get(index);
    return arrival ? [arrival.entry - sent] : [];
  });
  return summarize(delays).p50Ms;
}

/** Both sides' figures and how the client's compare: p50 ratio, p99 difference. */
function ratios(raw: LatencySummary, client: LatencySummary) {
  return {
    raw,
    client,
    p50Ratio: Math.round((client.p50Ms / raw.p50Ms) * 100) / 100,
    p99ExtraMs: roundMs(client.p99Ms - raw.p99Ms),
  };
}

/** Latencies and splits of rounds (ms). */
function analyse(roundsToAnalyse: readonly Round[], sides: Sides) {
  const rawAll: number[] = [];
  const rawAlone: number[] = [];
  const clientAll: number[] = [];
  const clientAlone: number[] = [];
  const natsToIntake: number[] = [];
  const judge: number[] = [];
  const engineToSubscriber: number[] = [];
  const handler: number[] = [];
  const wholeCallback: number[] = [];
  const natsToCallback: number[] = [];
  const rawRead: number[] = [];
  const rawParse: number[] = [];
  const clientRead: number[] = [];
  const clientParse: number[] = [];
  const parse: number[] = [];
  const rawServedFirst: number[] = [];
  const clientServedFirst: number[] = [];
  let missing = 0;
  let rejected = 0;
  for (const round of roundsToAnalyse) {
    rejected += round.rejected;
    const indexes = [...round.sentAt.keys()].sort((a, b) => a - b).slice(WARM_UP_FRAMES);
    for (const index of indexes) {
      const sent = round.sentAt.get(index)!;
      const r = round.raw.get(index);
      const c = round.client.get(index);
      if ((sides.raw && !r) || (sides.client && !c)) missing++;
      if (r) {
        rawAll.push(r.delivered - sent);
        rawAlone.push(aloneLatency(sent, r, c));
        natsToCallback.push(r.entry - sent);
        rawRead.push(r.read - sent);
        rawParse.push(r.entry - r.read);
        parse.push(r.delivered - r.entry);
      }
      if (c) {
        clientAll.push(c.delivered - sent);
        clientAlone.push(aloneLatency(sent, c, r));
        natsToIntake.push(c.entry - sent);
        clientRead.push(c.read - sent);
        clientParse.push(c.entry - c.read);
        const engineEntry = round.engineAt.get(index)!;
        judge.push(engineEntry - c.entry);
        engineToSubscriber.push(c.delivered - engineEntry);
        handler.push(c.delivered - c.entry);
        if (c.exit > 0) wholeCallback.push(c.exit - c.entry);
      }
      if (r && c) {
        if (r.read < c.read) rawServedFirst.push(r.delivered - sent);
        else clientServedFirst.push(c.delivered - sent);
      }
    }
  }
  const { raw, client, p50Ratio, p99ExtraMs } = ratios(summarize(rawAlone), summarize(clientAlone));
  return {
    raw,
    client,
    p50Ratio,
    p99ExtraMs,
    met:
      missing === 0 &&
      rejected === 0 &&
      p50Ratio <= P50_RATIO_GOAL &&
      p99ExtraMs <= P99_EXTRA_GOAL_MS,
    missing,
    rejected,
    ...(sides.raw && sides.client
      ? {
          rawAllFrames: summarize(rawAll),
          clientAllFrames: summarize(clientAll),
          firstServed: ratios(summarize(rawServedFirst), summarize(clientServedFirst)),
        }
      : {}),
    clientSplits: {
      natsToIntakeMs: summarize(natsToIntake),
      sentToReadMs: summarize(clientRead),
      readToCallbackMs: summarize(clientParse),
      judgeMs: summarize(judge),
      engineToSubscriberMs: summarize(engineToSubscriber),
      handlerMs: summarize(handler),
      wholeCallbackMs: summarize(wholeCallback),
    },
    rawSplits: {
      natsToCallbackMs: summarize(natsToCallback),
      sentToReadMs: summarize(rawRead),
      readToCallbackMs: summarize(rawParse),
      parseMs: summarize(parse),
    },
  };
}

/**
 * One rate, two ways: `sameFrames` (both sides on every frame; `alone` latencies, see the file
 * comment) and `alternating` (rounds in which only one side listens, so neither ever waits for
 * the other nor warms the event loop for it), each for `seconds`.
 */
async function measureRate(url: string, tempoBpm: number, seconds: number, writer: Writer) {
  if (profiling) profileSummary(); // drops what earlier rates left
  const alternations = Math.max(
    1,
    Math.min(ALTERNATIONS, Math.floor(seconds / 2 / MIN_ROUND_SECONDS)),
  );
  const roundSeconds = seconds / 2 / alternations;
  log(
    `${tempoBpm} BPM, ${writer} frames: both sides on the same frames, ${alternations} × ${roundSeconds * 2} s`,
  );
  // Which subscriber the server writes to first decides who waits: each side subscribes first
  // in half the rounds.
  const sameFrameRounds: Round[] = [];
  for (let i = 0; i < alternations; i++) {
    const sides = { raw: true, client: true, clientFirst: i % 2 === 1 };
    sameFrameRounds.push(
      await runRound(url, { tempoBpm, seconds: roundSeconds * 2, writer }, sides),
    );
  }
  const sameFrames = analyse(sameFrameRounds, { raw: true, client: true });
  const profiled = profiling ? profileSummary() : undefined;
  log(
    `${tempoBpm} BPM, ${writer} frames: alternating rounds, ${alternations} × ${roundSeconds} s each side`,
  );
  const rawRounds: Round[] = [];
  const clientRounds: Round[] = [];
  for (let i = 0; i < alternations; i++) {
    const play = { tempoBpm, seconds: roundSeconds, writer };
    const raw = () => runRound(url, play, { raw: true, client: false });
    const client = () => runRound(url, play, { raw: false, client: true });
    if (i % 2 === 0) {
      rawRounds.push(await raw());
      clientRounds.push(await client());
    } else {
      clientRounds.push(await client());
      rawRounds.push(await raw());
    }
  }
  const rawAlone = analyse(rawRounds, { raw: true, client: false });
  const clientAlone = analyse(clientRounds, { raw: false, client: true });
  const { raw, client, p50Ratio, p99ExtraMs } = ratios(rawAlone.raw, clientAlone.client);
  const handlerExtraMs = roundMs(
    clientAlone.clientSplits.handlerMs.p50Ms - rawAlone.rawSplits.parseMs.p50Ms,
  );
  const alternating = {
    informational: true,
    raw,
    client,
    p50Ratio,
    p99ExtraMs,
    met:
      clientAlone.missing + rawAlone.missing + clientAlone.rejected === 0 &&
      p50Ratio <= P50_RATIO_GOAL &&
      p99ExtraMs <= P99_EXTRA_GOAL_MS,
    transport: {
      rawRoundP50sMs: rawRounds.map((round) => transportP50(round, 'raw')),
      clientRoundP50sMs: clientRounds.map((round) => transportP50(round, 'client')),
    },
    handlerExtraMs,
    impliedP50Ratio: Math.round(((raw.p50Ms + handlerExtraMs) / raw.p50Ms) * 100) / 100,
    clientSplits: clientAlone.clientSplits,
    rawSplits: rawAlone.rawSplits,
  };
  for (const [name, result] of Object.entries({ sameFrames, alternating })) {
    log(
      `${tempoBpm} BPM ${writer} ${name}: client p50 ${result.client.p50Ms} p99 ${result.client.p99Ms} ms; raw p50 ${result.raw.p50Ms} p99 ${result.raw.p99Ms} ms`,
    );
  }
  return {
    tempoBpm,
    writer,
    framesPerSecond: tempoBpm / 60,
    seconds,
    sameFrames,
    alternating,
    goals: {
      p50RatioAtMost: P50_RATIO_GOAL,
      p99ExtraMsAtMost: P99_EXTRA_GOAL_MS,
      met: sameFrames.met,
    },
    ...(profiled ? { profile: profiled } : {}),
  };
}

async function main(): Promise<void> {
  const realisticSeconds = sized('LATENCY_SECONDS', 45, 4);
  const fastSeconds = sized('LATENCY_FAST_SECONDS', 20, 3);
  const server = process.env.NATS_URL ? null : await startNatsServer();
  const url = process.env.NATS_URL ?? server!.url;
  if (profiling) profileClientPath();
  instrumentClientPath();
  stampReads();
  try {
    // Realistic first: the fast rate warms the JIT, which must not flatter the realistic one.
    const realistic = await measureRate(url, REALISTIC_BPM, realisticSeconds, 'sdk');
    const goRealistic = await measureRate(url, REALISTIC_BPM, realisticSeconds, 'go');
    const fast = await measureRate(url, FAST_BPM, fastSeconds, 'sdk');
    const goFast = await measureRate(url, FAST_BPM, fastSeconds, 'go');
    const goWritten = { realistic: goRealistic, fast: goFast };
    printResult({
      bench: 'beat-latency',
      node: process.version,
      server: server ? 'started by the bench' : 'NATS_URL',
      ...(control ? { control: 'a second raw subscriber in the client’s place' } : {}),
      realistic,
      fast,
      goWritten,
      goals: {
        met: [realistic, fast, goRealistic, goFast].every((rate) => rate.goals.met),
      },
    });
  } finally {
    await stopAllNatsServers();
  }
}

void main();
