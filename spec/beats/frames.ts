/**
 * Small factories for the beat engine's specs: judged frames made consistent with
 * docs/protocol.md sections 3 and 6 (downbeat, window) without going through the judge.
 */
import { TestScheduler } from 'rxjs/testing';
import { map } from 'rxjs';
import {
  BeatEngine,
  type BeatEngineOptions,
  type FrameOutcome,
  type JudgedFrame,
} from '../../lib/beats/engine';
import type { Beat } from '../../lib/beats/beat';
import { formatHlc, HybridLogicalClock } from '../../lib/clock/hlc';
import { BEAT_FRAME_TYPE } from '../../lib/protocol/beat-frame';
import { windowIdFor } from '../../lib/protocol/windows';

export const CLUSTER = 'test-cluster';
export const AGENT = 'agent-1';
/** Wall clock at virtual time 0. */
export const WALL0 = 1_700_000_000_000;

export interface FrameSpec {
  pulseId?: string;
  tempo?: number;
  bpb?: number;
  source?: 'pulse' | 'legacy';
  hlcSkew?: boolean;
  /** The frame's `hlc` physical part (ms since the epoch). */
  hlcMs?: number;
  deadlineAt?: string;
}

/** The `deadline_at` of a frame whose spec gives none: see {@link arrivingAt}. */
export const UNSET_DEADLINE = new Date(WALL0).toISOString();

/**
 * An accepted verdict for beat `index`, consistent with sections 3 and 6. Without
 * `spec.deadlineAt` its `deadline_at` is {@link UNSET_DEADLINE}: pass it through
 * {@link arrivingAt} to make it a frame sent just as it arrives.
 */
export function judged(index: number, spec: FrameSpec = {}): JudgedFrame {
  const { tempo = 60, bpb = 4, source = 'pulse', hlcSkew = false } = spec;
  const pulseId = source === 'legacy' ? 'legacy' : (spec.pulseId ?? 'pulse-1');
  return {
    ok: true,
    source,
    hlcSkew,
    frame: Object.freeze({
      type: BEAT_FRAME_TYPE,
      cluster_id: CLUSTER,
      pulse_id: pulseId,
      beat_index: index,
      downbeat: index % bpb === 0,
      phase: source === 'legacy' ? 'legacy' : 'work',
      hlc: formatHlc(spec.hlcMs ?? WALL0, 0, pulseId),
      deadline_at: spec.deadlineAt ?? UNSET_DEADLINE,
      tempo_bpm: tempo,
      window_id: windowIdFor(CLUSTER, index, bpb),
      beats_per_bar: bpb,
    }),
  };
}

/**
 * The frame as a pulse whose wall clock agrees with this host's would have sent it, arriving at
 * virtual time `timeMs` without delay: `deadline_at` one period after `WALL0 + timeMs`, unless
 * the frame's spec set one (then it is left alone).
 */
export function arrivingAt(judgedFrame: JudgedFrame, timeMs: number): JudgedFrame {
  const { frame } = judgedFrame;
  if (frame.deadline_at !== UNSET_DEADLINE) return judgedFrame;
  const deadlineAt = new Date(WALL0 + timeMs + 60000 / frame.tempo_bpm).toISOString();
  return { ...judgedFrame, frame: Object.freeze({ ...frame, deadline_at: deadlineAt }) };
}

/** A TestScheduler that compares with Jest's deep equality. */
export function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

/**
 * An engine on `scheduler`'s virtual time (wall clock `WALL0 + virtual ms`): 60 BPM fallback,
 * 100 ms tolerance, 4 beats a bar, unless `options` says otherwise.
 */
export function engineOn(
  scheduler: TestScheduler,
  options: Partial<BeatEngineOptions> = {},
): BeatEngine {
  return new BeatEngine({
    clusterId: CLUSTER,
    agentId: AGENT,
    jitterToleranceMs: 100,
    beatsPerBar: 4,
    fallbackTempoBpm: 60,
    clock: new HybridLogicalClock(AGENT, { physicalNow: () => WALL0 + scheduler.now() }),
    scheduler,
    wallNow: () => WALL0 + scheduler.now(),
    ...options,
  });
}

/** Runs `work` at virtual time `timeMs`. */
export function at(scheduler: TestScheduler, timeMs: number, work: () => void): void {
  scheduler.schedule(work, timeMs);
}

/**
 * A short label of a beat: source initial and index, `-n` when `n` were missed before it, `!`
 * on a timeline reset. E.g. `p7`, `s8`, `p12-2`, `p500!`.
 */
export function label(beat: Beat): string {
  const missed = beat.missedBefore > 0 ? `-${beat.missedBefore}` : '';
  return `${beat.source[0]}${beat.beat_index}${missed}${beat.timelineReset ? '!' : ''}`;
}

/**
 * The marble diagram of values at absolute virtual times (sorted, distinct), completing at
 * `completeAt` when given. E.g. `[[1000, 'p1'], [2100, 's2']], 3000` →
 * `'1000ms a 1099ms b 899ms |'` with `{ a: 'p1', b: 's2' }`.
 */
export function marbles(
  events: ReadonlyArray<readonly [number, string]>,
  completeAt?: number,
): { diagram: string; values: Record<string, string> } {
  const parts: string[] = [];
  const values: Record<string, string> = {};
  let frame = 0;
  const place = (time: number, symbol: string) => {
    if (time < frame)
      throw new RangeError(`events must be sorted and distinct, ${time} < ${frame}`);
    if (time > frame) parts.push(`${time - frame}ms`);
    parts.push(symbol);
    frame = time + 1;
  };
  events.forEach(([time, value], i) => {
    const symbol = String.fromCharCode(97 + i);
    values[symbol] = value;
    place(time, symbol);
  });
  if (completeAt !== undefined) place(completeAt, '|');
  return { diagram: parts.join(' '), values };
}

/** Expects `engine.beats$` (as labels) to be exactly `events`, completing at `completeAt`. */
export function expectBeats(
  helpers: { expectObservable: TestScheduler['expectObservable'] },
  engine: BeatEngine,
  events: ReadonlyArray<readonly [number, string]>,
  completeAt: number,
): void {
  const { diagram, values } = marbles(events, completeAt);
  helpers.expectObservable(engine.beats$.pipe(map(label))).toBe(diagram, values);
}

/** Pushes `frame` at `timeMs` and records its outcome in `outcomes`. */
export function push(
  scheduler: TestScheduler,
  engine: BeatEngine,
  timeMs: number,
  frame: JudgedFrame,
  outcomes: FrameOutcome[] = [],
): FrameOutcome[] {
  at(scheduler, timeMs, () => outcomes.push(engine.frame(arrivingAt(frame, timeMs))));
  return outcomes;
}
