/**
 * A client whose wall clock is stepped by an hour for 12 s, on jest's fake time: `setSystemTime`
 * moves `Date.now` only, as `date -s` would, while `performance.now` keeps counting. Beats,
 * budgets, durations and stamps must not notice.
 */
import { BeatBudgetExceededError } from '../../lib/errors';
import { hlcPhysicalMs } from '../../lib/clock/hlc';
import { createTestClient } from '../../lib/testing';

const WALL0 = 1_800_000_000_000;
const HOUR_MS = 3_600_000;
const PERIOD_MS = 500; // 120 BPM

interface Stamped {
  readonly hlc: string;
  /** `l` minus the true wall time (a clock never stepped) when it was made. */
  readonly leadMs: number;
  readonly phase: 'before' | 'stepped' | 'after';
}

describe('a client whose wall clock steps an hour for 12 s (fake time)', () => {
  let monoAtStart = 0;
  /** What a clock that was never stepped reads. */
  const trueNow = () => WALL0 + (performance.now() - monoAtStart);

  beforeEach(() => {
    jest.useFakeTimers({ now: WALL0 });
    monoAtStart = performance.now();
  });
  afterEach(() => jest.useRealTimers());

  it.each([
    ['ahead', HOUR_MS],
    ['back', -HOUR_MS],
  ])(
    'stepped %s: beats keep their spacing, budgets their beats, stamps the true time',
    async (_, stepMs) => {
      await using test = createTestClient({ fallbackTempoBpm: 120, jitterToleranceMs: 100 });
      const { client } = test;
      let phase: Stamped['phase'] = 'before';
      const beatTimes: number[] = [];
      const beatIndexes: number[] = [];
      const stamped: Stamped[] = [];
      const budgets: Promise<{ startedAt: number; startBeat: number; error: unknown }>[] = [];
      client.onBeat((beat) => {
        beatTimes.push(performance.now());
        beatIndexes.push(beat.beat_index);
        stamped.push({
          hlc: beat.hlc,
          leadMs: hlcPhysicalMs(beat.hlc)! - trueNow(),
          phase,
        });
        const claimPhase = phase;
        void client
          .emitStatusClaim({ state: 'executing', beatsLeft: 1, progress: 0.5 })
          .then((claim) => {
            stamped.push({
              hlc: claim.hlc,
              leadMs: hlcPhysicalMs(claim.hlc)! - trueNow(),
              phase: claimPhase,
            });
          });
        if (beat.beat_index % 8 === 0) {
          const startedAt = performance.now();
          budgets.push(
            client
              .withBeatBudget(4, () => new Promise(() => undefined))
              .then(
                () => ({ startedAt, startBeat: beat.beat_index, error: null }),
                (error: unknown) => ({ startedAt, startBeat: beat.beat_index, error }),
              ),
          );
        }
      });
      await client.start();
      await jest.advanceTimersByTimeAsync(5_000);
      phase = 'stepped';
      jest.setSystemTime(Date.now() + stepMs);
      await jest.advanceTimersByTimeAsync(12_000);
      const connectedWhileStepped = client.metrics().connection.connectedTimeMs;
      const elapsedWhileStepped = performance.now() - monoAtStart;
      phase = 'after';
      jest.setSystemTime(Date.now() - stepMs);
      await jest.advanceTimersByTimeAsync(12_000);
      const connectedTimeMs = client.metrics().connection.connectedTimeMs;
      const elapsedMs = performance.now() - monoAtStart;
      await test.stop();

      // Beats: synthetic, one a period, no burst, no stall, no index skipped.
      // (The first synthetic beat, at period + tolerance, is late for its slot: from the second.)
      const intervals = beatTimes.slice(2).map((at, i) => at - beatTimes[i + 1]);
      expect(intervals.length).toBeGreaterThan(50);
      expect(new Set(intervals)).toEqual(new Set([PERIOD_MS]));
      expect(beatIndexes).toEqual(beatIndexes.map((_, i) => beatIndexes[0] + i));

      // Budgets: each expired at its fourth beat, four periods after it started.
      const settled = await Promise.all(budgets.slice(0, -1));
      expect(settled.length).toBeGreaterThan(5);
      for (const budget of settled) {
        expect(budget.error).toBeInstanceOf(BeatBudgetExceededError);
        const error = budget.error as BeatBudgetExceededError;
        expect(error.expiredAtBeat).toBe(budget.startBeat + 4);
      }

      // Stamps: the true time, before, during and after the step, and strictly increasing.
      expect(stamped.filter((s) => s.phase === 'stepped').length).toBeGreaterThan(40);
      const leads = stamped.map((s) => s.leadMs);
      expect(Math.max(...leads)).toBeLessThanOrEqual(0);
      expect(Math.min(...leads)).toBeGreaterThan(-2);
      // Each beat's stamp, then its claim's: made in that order, so they must only grow.
      const backwards = stamped.filter((s, i) => i > 0 && s.hlc <= stamped[i - 1].hlc);
      expect(backwards).toEqual([]);
      expect(test.claims.length).toBe(beatTimes.length);

      // Durations: connected time is monotonic time, whatever the wall clock did.
      for (const [connected, elapsed] of [
        [connectedWhileStepped, elapsedWhileStepped],
        [connectedTimeMs, elapsedMs],
      ]) {
        expect(connected).toBeGreaterThan(elapsed - 100);
        expect(connected).toBeLessThanOrEqual(elapsed);
      }
    },
  );

  it.each([
    ['ahead', HOUR_MS],
    ['back', -HOUR_MS],
  ])(
    'stepped %s under a test pulse on the same clock: frames and claims keep the true time',
    async (_, stepMs) => {
      await using test = createTestClient({ jitterToleranceMs: 100 });
      const { client } = test;
      const leads: number[] = [];
      client.onBeat((beat) => {
        leads.push(hlcPhysicalMs(beat.hlc)! - trueNow());
        void client
          .emitStatusClaim({ state: 'executing', beatsLeft: 1, progress: 0.5 })
          .then((claim) => leads.push(hlcPhysicalMs(claim.hlc)! - trueNow()));
      });
      await client.start();
      test.pulse({ tempoBpm: 120 }).play(Infinity);
      await jest.advanceTimersByTimeAsync(5_000);
      jest.setSystemTime(Date.now() + stepMs);
      await jest.advanceTimersByTimeAsync(12_000);
      jest.setSystemTime(Date.now() - stepMs);
      await jest.advanceTimersByTimeAsync(12_000);
      const { beats } = client.metrics();
      await test.stop();

      // The pulse's deadline_at steps with the shared wall clock while the client reads arrivals
      // on its carried clock: to the client, each step is the pulse's clock stepping, followed
      // again within four periods (docs/protocol.md section 9): at most three stale frames and
      // three synthetic slots at each of the two steps, never a seam in the beat.
      expect(beats.synthetic).toBeLessThanOrEqual(6);
      expect(beats.rejected['stale-frame']).toBeLessThanOrEqual(6);
      expect(beats.timelineResets).toBe(0);
      expect(beats.rejected['hlc-skew']).toBe(0);
      expect(leads.length).toBeGreaterThan(100);
      expect(Math.max(...leads)).toBeLessThanOrEqual(0);
      expect(Math.min(...leads)).toBeGreaterThan(-2);
    },
  );
});
