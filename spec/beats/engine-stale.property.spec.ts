/**
 * Stale frames, as properties: one honest pulse (60 BPM, exact deadlines) whose frames reach the
 * engine in order, each 0–50 ms late, except through partitions that hold a run of frames and
 * release them together when they heal. Whatever the partitions, the engine never resets the
 * timeline, never delivers an index twice, and never delivers a frame held past its successor's
 * due time by more than the tolerance (plus the base latency).
 */
import fc from 'fast-check';
import type { Beat } from '../../lib/beats/beat';
import { WALL0, at, engineOn, judged, testScheduler } from './frames';

const PERIOD_MS = 1000;
const TOLERANCE_MS = 100;
const MAX_BASE_LATENCY_MS = 50;
const FRAMES = 120;

interface Partition {
  /** The first held frame. */
  from: number;
  /** Frames held. */
  length: number;
  /** How long after the last held frame was sent the partition heals (ms). */
  healsAfterMs: number;
}

const partitionsArb = fc
  .array(
    fc.record({
      gap: fc.integer({ min: 20, max: 40 }),
      length: fc.integer({ min: 1, max: 30 }),
      healsAfterMs: fc.integer({ min: 0, max: 3000 }),
    }),
    { maxLength: 4 },
  )
  .map((specs) => {
    const partitions: Partition[] = [];
    let next = 0;
    for (const { gap, length, healsAfterMs } of specs) {
      partitions.push({ from: next + gap, length, healsAfterMs });
      next += gap + length;
    }
    return partitions;
  });

/** When each frame arrives: sent at k × period, late by its base latency or held. */
function arrivals(partitions: readonly Partition[], latencies: readonly number[]): number[] {
  const times = latencies.map((latency, k) => k * PERIOD_MS + latency);
  for (const { from, length, healsAfterMs } of partitions) {
    const last = Math.min(from + length, FRAMES) - 1;
    const healAt = last * PERIOD_MS + MAX_BASE_LATENCY_MS + healsAfterMs;
    for (let k = from; k <= last; k++) times[k] = Math.max(times[k], healAt);
  }
  // Order kept (one TCP stream): never before the frame ahead of it.
  for (let k = 1; k < times.length; k++) times[k] = Math.max(times[k], times[k - 1]);
  return times;
}

describe('BeatEngine stale frames (properties)', () => {
  it('through any partitions: no reset, no index twice, no frame held past its successor delivered', () => {
    fc.assert(
      fc.property(
        partitionsArb,
        fc.array(fc.integer({ min: 0, max: MAX_BASE_LATENCY_MS }), {
          minLength: FRAMES,
          maxLength: FRAMES,
        }),
        (partitions, latencies) => {
          const arrivedAt = arrivals(partitions, latencies);
          const scheduler = testScheduler();
          const beats: Beat[] = [];
          let resets = -1;
          scheduler.run(() => {
            const engine = engineOn(scheduler, { jitterToleranceMs: TOLERANCE_MS });
            engine.beats$.subscribe((beat) => beats.push(beat));
            arrivedAt.forEach((time, k) => {
              const deadlineAt = new Date(WALL0 + (k + 1) * PERIOD_MS).toISOString();
              const frame = judged(k, { deadlineAt });
              at(scheduler, time, () => engine.frame(frame));
            });
            at(scheduler, arrivedAt[FRAMES - 1] + 1, () => {
              resets = engine.state.counters.timelineResets;
              engine.stop();
            });
          });
          expect(resets).toBe(0);
          beats.slice(1).forEach((beat, i) => {
            expect(beat.beat_index).toBeGreaterThan(beats[i].beat_index);
          });
          for (const beat of beats.filter((b) => b.source === 'pulse')) {
            const heldMs = arrivedAt[beat.beat_index] - beat.beat_index * PERIOD_MS;
            expect(heldMs).toBeLessThanOrEqual(PERIOD_MS + TOLERANCE_MS + MAX_BASE_LATENCY_MS);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
