import fc from 'fast-check';
import type { Beat } from '../../lib/beats/beat';
import type { FrameOutcome } from '../../lib/beats/engine';
import { arrivingAt, at, engineOn, judged, testScheduler } from './frames';

const TOLERANCE_MS = 100;
const FALLBACK_BPM = 60;

type Step =
  | { kind: 'frame'; gapMs: number; index: number; pulseId: string; tempo: number; bpb: number }
  | { kind: 'silence'; gapMs: number }
  | { kind: 'unreachable'; gapMs: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('frame' as const),
      gapMs: fc.integer({ min: 1, max: 2500 }),
      index: fc.integer({ min: 0, max: 40 }),
      pulseId: fc.constantFrom('pulse-1', 'pulse-2'),
      // Whole-ms periods all longer than the tolerance: 1000, 800, 600, 500, 250 ms.
      tempo: fc.constantFrom(60, 75, 100, 120, 240),
      bpb: fc.integer({ min: 1, max: 6 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('silence' as const),
      gapMs: fc.integer({ min: 1, max: 6000 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('unreachable' as const),
      gapMs: fc.integer({ min: 1, max: 2500 }),
    }),
  },
);

type Entry =
  | { t: number; kind: 'beat'; beat: Beat }
  | { t: number; kind: 'frame'; step: Extract<Step, { kind: 'frame' }>; outcome: FrameOutcome }
  | { t: number; kind: 'unreachable' };

/** Runs the steps on virtual time; returns everything that happened, in order. */
function run(steps: readonly Step[]): { log: Entry[]; elapsed: number } {
  const scheduler = testScheduler();
  const log: Entry[] = [];
  let elapsed = 0;
  scheduler.run(() => {
    const engine = engineOn(scheduler, {
      jitterToleranceMs: TOLERANCE_MS,
      fallbackTempoBpm: FALLBACK_BPM,
    });
    engine.beats$.subscribe((beat) => log.push({ t: scheduler.now(), kind: 'beat', beat }));
    engine.start();
    let time = 0;
    for (const step of steps) {
      time += step.gapMs;
      if (step.kind === 'frame') {
        const frame = arrivingAt(judged(step.index, step), time);
        at(scheduler, time, () => {
          const outcome = engine.frame(frame);
          log.push({ t: scheduler.now(), kind: 'frame', step, outcome });
        });
      } else if (step.kind === 'unreachable') {
        at(scheduler, time, () => {
          log.push({ t: scheduler.now(), kind: 'unreachable' });
          engine.markUnreachable();
        });
      }
    }
    at(scheduler, time + 3000, () => {
      elapsed = engine.state.elapsedBeats;
      engine.stop();
    });
  });
  return { log, elapsed };
}

/** The synthetic schedule of a degradation, as docs/protocol.md section 9 describes it. */
interface Degradation {
  anchorMs: number;
  periodMs: number;
  /** The next slot to emit, and when it is expected. */
  slot: number;
  emitAtMs: number;
}

/** The pulse's grid as section 9 states it: a min filter of the last 16 offsets. */
interface Grid {
  pulseId: string;
  periodMs: number;
  bpb: number;
  origin: number;
  offsets: number[];
  lateInARow: number;
}

const gridDue = (grid: Grid, index: number) =>
  Math.min(...grid.offsets) + (index - grid.origin) * grid.periodMs;

/** Replays the log against the rules of section 9 and fails on the first disagreement. */
function checkAgainstRules(log: readonly Entry[]): void {
  let lastIndex: number | null = null;
  let pulseSeen = false;
  let followed: string | null = null;
  let lastDueMs: number | null = null;
  let periodMs = 60000 / FALLBACK_BPM;
  let degradation: Degradation | null = null;
  let deliveredFrames = 0;
  let pulseBeats = 0;
  let grid: Grid | null = null;
  /** Places a followed frame on the grid; true when it (re)started from the frame. */
  const place = (t: number, step: Extract<Step, { kind: 'frame' }>, reset: boolean) => {
    const period = 60000 / step.tempo;
    if (
      grid === null ||
      reset ||
      grid.periodMs !== period ||
      grid.bpb !== step.bpb ||
      grid.pulseId !== step.pulseId
    ) {
      grid = {
        pulseId: step.pulseId,
        periodMs: period,
        bpb: step.bpb,
        origin: step.index,
        offsets: [t],
        lateInARow: 0,
      };
      return grid;
    }
    const late = t - gridDue(grid, step.index) > TOLERANCE_MS;
    grid.lateInARow = late ? grid.lateInARow + 1 : 0;
    if (grid.lateInARow >= 3) {
      grid = { ...grid, origin: step.index, offsets: [t], lateInARow: 0 };
      return grid;
    }
    grid.offsets = [...grid.offsets, t - (step.index - grid.origin) * period].slice(-16);
    return grid;
  };
  const silenceAt = () => (lastDueMs ?? 0) + periodMs + TOLERANCE_MS;

  for (const entry of log) {
    if (entry.kind === 'beat') {
      const { beat } = entry;
      if (beat.source !== 'synthetic') {
        pulseBeats++;
        continue;
      }
      if (degradation === null) {
        // Degradation by silence: exactly period + tolerance after the last due beat.
        expect(entry.t).toBe(silenceAt());
        degradation = {
          anchorMs: lastDueMs ?? 0,
          periodMs,
          slot: 1,
          emitAtMs: entry.t,
        };
        followed = null;
      }
      // The absolute schedule: at its slot's time (or the degradation moment), nothing missed.
      expect(entry.t).toBe(degradation.emitAtMs);
      expect(beat).toMatchObject({
        beat_index: lastIndex === null ? 0 : lastIndex + 1,
        missedBefore: 0,
        tempo_bpm: 60000 / degradation.periodMs,
      });
      lastIndex = beat.beat_index;
      lastDueMs = degradation.anchorMs + degradation.slot * degradation.periodMs;
      degradation.slot++;
      degradation.emitAtMs = degradation.anchorMs + degradation.slot * degradation.periodMs;
    } else if (entry.kind === 'unreachable') {
      if (degradation !== null) continue;
      followed = null;
      if (lastDueMs === null) {
        degradation = { anchorMs: entry.t - periodMs, periodMs, slot: 1, emitAtMs: entry.t };
      } else {
        const slot = Math.max(1, Math.floor((entry.t - lastDueMs) / periodMs));
        const dueMs = lastDueMs + slot * periodMs;
        degradation = { anchorMs: lastDueMs, periodMs, slot, emitAtMs: Math.max(dueMs, entry.t) };
      }
    } else {
      const { step, outcome } = entry;
      const silent = degradation !== null || (lastDueMs !== null && entry.t >= silenceAt());
      if (followed !== null && step.pulseId !== followed && !silent) {
        expect(outcome).toEqual({ outcome: 'rejected', reason: 'other-pulse' });
        continue;
      }
      followed = step.pulseId;
      periodMs = 60000 / step.tempo;
      degradation = null;
      const reset = lastIndex !== null && (!pulseSeen || step.index < lastIndex - step.bpb);
      pulseSeen = true;
      // Re-based on the grid: the last delivered beat is due at its time on it.
      const onGrid = place(entry.t, step, reset);
      if (!reset && lastIndex !== null && step.index <= lastIndex) {
        lastDueMs = gridDue(onGrid, lastIndex);
        expect(outcome.outcome === 'rejected' ? outcome.reason : outcome.outcome).toBe('behind');
        continue;
      }
      lastDueMs = gridDue(onGrid, step.index);
      expect(outcome).toMatchObject({
        outcome: 'delivered',
        beat: {
          beat_index: step.index,
          timelineReset: reset,
          missedBefore: reset || lastIndex === null ? 0 : step.index - lastIndex - 1,
        },
      });
      lastIndex = step.index;
      deliveredFrames++;
    }
  }
  expect(pulseBeats).toBe(deliveredFrames);
}

describe('BeatEngine (properties)', () => {
  it('delivers strictly increasing indexes, except at a flagged timeline reset', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 30 }), (steps) => {
        const { log, elapsed } = run(steps);
        const beats = log.flatMap((entry) => (entry.kind === 'beat' ? [entry.beat] : []));
        let expectedElapsed = 0;
        beats.forEach((beat, i) => {
          const previous = beats[i - 1];
          if (previous !== undefined && !beat.timelineReset) {
            expect(beat.beat_index).toBeGreaterThan(previous.beat_index);
          }
          expectedElapsed +=
            previous === undefined || beat.timelineReset
              ? 1
              : Math.max(1, beat.beat_index - previous.beat_index);
        });
        expect(elapsed).toBe(expectedElapsed);
      }),
      { numRuns: 150 },
    );
  });

  it('follows every rule of section 9: pulse lock, re-basing, resets, and synthetic beats on the absolute schedule', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 30 }), (steps) => {
        checkAgainstRules(run(steps).log);
      }),
      { numRuns: 150 },
    );
  });
});
