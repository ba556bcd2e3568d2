import { config, map, type SchedulerLike } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import type { Beat } from '../../lib/beats/beat';
import type { FrameOutcome } from '../../lib/beats/engine';
import { HybridLogicalClock } from '../../lib/clock/hlc';
import { windowIdFor } from '../../lib/protocol/windows';
import {
  AGENT,
  arrivingAt,
  at,
  CLUSTER,
  engineOn,
  judged,
  label,
  marbles,
  testScheduler,
  WALL0,
  expectBeats,
  push,
} from './frames';

describe('BeatEngine', () => {
  describe('following a pulse', () => {
    it('delivers frames on time as they arrive, and nothing else', () => {
      const scheduler = testScheduler();
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler);
        engine.start();
        push(scheduler, engine, 1000, judged(1));
        push(scheduler, engine, 2000, judged(2));
        push(scheduler, engine, 3000, judged(3));
        at(scheduler, 3500, () => engine.stop());
        expectBeats(
          helpers,
          engine,
          [
            [1000, 'p1'],
            [2000, 'p2'],
            [3000, 'p3'],
          ],
          3500,
        );
      });
    });

    it('takes a frame late within the tolerance as on time: no synthetic beat; the schedule stays on the grid', () => {
      const scheduler = testScheduler();
      const outcomes: FrameOutcome[] = [];
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler);
        push(scheduler, engine, 1000, judged(1), outcomes);
        push(scheduler, engine, 2090, judged(2), outcomes);
        push(scheduler, engine, 3050, judged(3), outcomes);
        at(scheduler, 4500, () => engine.stop());
        expectBeats(
          helpers,
          engine,
          [
            [1000, 'p1'],
            [2090, 'p2'],
            [3050, 'p3'],
            // Beat 3 was due at 3000 on the grid, not at its arrival: degraded at 3000 + 1100.
            [4100, 's4'],
          ],
          4500,
        );
      });
      // Against the grid (due at 2000, 3000), not against the last arrival.
      expect(outcomes.map((o) => ('lateMs' in o ? o.lateMs : undefined))).toEqual([null, 90, 50]);
    });

    it('delivers a duplicate frame only once', () => {
      const scheduler = testScheduler();
      const outcomes: FrameOutcome[] = [];
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler);
        push(scheduler, engine, 1000, judged(5), outcomes);
        push(scheduler, engine, 1010, judged(5), outcomes);
        at(scheduler, 1500, () => {
          expect(engine.state.counters.behind).toBe(1);
          engine.stop();
        });
        expectBeats(helpers, engine, [[1000, 'p5']], 1500);
      });
      expect(outcomes.map((o) => o.outcome)).toEqual(['delivered', 'behind']);
    });

    it('counts the indexes skipped before a frame ahead as missed', () => {
      const scheduler = testScheduler();
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler);
        push(scheduler, engine, 1000, judged(1));
        push(scheduler, engine, 2000, judged(4));
        at(scheduler, 2500, () => {
          expect(engine.state.counters.missed).toBe(2);
          engine.stop();
        });
        expectBeats(
          helpers,
          engine,
          [
            [1000, 'p1'],
            [2000, 'p4-2'],
          ],
          2500,
        );
      });
    });
  });

  describe('degradation', () => {
    it('starts exactly period + tolerance after the last beat was due, then keeps the phase', () => {
      const scheduler = testScheduler();
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler);
        push(scheduler, engine, 1000, judged(7));
        at(scheduler, 2099, () => expect(engine.state.degraded).toBe(false));
        at(scheduler, 2101, () => expect(engine.state.degraded).toBe(true));
        at(scheduler, 4500, () => engine.stop());
        expectBeats(
          helpers,
          engine,
          [
            [1000, 'p7'],
            [2100, 's8'],
            [3000, 's9'],
            [4000, 's10'],
          ],
          4500,
        );
      });
    });

    it('keeps its timer quiet while frames come: no timer runs as they arrive, whatever the tolerance', () => {
      const scheduler = testScheduler();
      const timerRuns: number[] = [];
      // Every timer the engine sets goes through this scheduler: record when each one runs.
      const counting = {
        now: () => scheduler.now(),
        // The engine schedules plain callbacks, without state.
        schedule: (work: () => void, delay?: number) =>
          scheduler.schedule(() => {
            timerRuns.push(scheduler.now());
            work();
          }, delay),
      } as SchedulerLike;
      scheduler.run(() => {
        // A tolerance of one whole period: a timer left to fire at each old degradation point
        // would run just as every other frame arrives.
        const engine = engineOn(scheduler, { scheduler: counting, jitterToleranceMs: 1000 });
        engine.start();
        for (let i = 1; i <= 6; i++) push(scheduler, engine, i * 1000, judged(i));
        at(scheduler, 6500, () => engine.stop());
      });
      expect(timerRuns).toEqual([]);
    });

    it('at start, without any pulse frame, after one fallback period + tolerance', () => {
      const scheduler = testScheduler();
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler, { fallbackTempoBpm: 120 });
        engine.start();
        at(scheduler, 1700, () => engine.stop());
        expectBeats(
          helpers,
          engine,
          [
            [600, 's0'],
            [1000, 's1'],
            [1500, 's2'],
          ],
          1700,
        );
      });
    });

    it('does not wait before start(): nothing happens until it is called', () => {
      const scheduler = testScheduler();
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler);
        at(scheduler, 5000, () => engine.start());
        at(scheduler, 7500, () => engine.stop());
        expectBeats(
          helpers,
          engine,
          [
            [6100, 's0'],
            [7000, 's1'],
          ],
          7500,
        );
      });
    });

    it('at once when NATS cannot be reached at start: the first synthetic beat is due now', () => {
      const scheduler = testScheduler();
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler);
        engine.start();
        at(scheduler, 300, () => engine.markUnreachable());
        at(scheduler, 301, () => expect(engine.state.degraded).toBe(true));
        at(scheduler, 2500, () => engine.stop());
        expectBeats(
          helpers,
          engine,
          [
            [300, 's0'],
            [1300, 's1'],
            [2300, 's2'],
          ],
          2500,
        );
      });
    });

    it('at once when NATS is lost while following: degraded now, the schedule keeps its phase', () => {
      const scheduler = testScheduler();
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler);
        push(scheduler, engine, 1000, judged(3));
        at(scheduler, 1500, () => engine.markUnreachable());
        at(scheduler, 1501, () => expect(engine.state.degraded).toBe(true));
        at(scheduler, 3500, () => engine.stop());
        expectBeats(
          helpers,
          engine,
          [
            [1000, 'p3'],
            [2000, 's4'],
            [3000, 's5'],
          ],
          3500,
        );
      });
    });

    it('when NATS is lost with a beat overdue (within tolerance), emits that beat at once', () => {
      const scheduler = testScheduler();
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler);
        push(scheduler, engine, 1000, judged(3));
        at(scheduler, 2050, () => engine.markUnreachable());
        at(scheduler, 3500, () => engine.stop());
        expectBeats(
          helpers,
          engine,
          [
            [1000, 'p3'],
            [2050, 's4'],
            [3000, 's5'],
          ],
          3500,
        );
      });
    });

    it('with a tolerance longer than a period, emits the latest due slot and skips earlier ones uncounted', () => {
      const scheduler = testScheduler();
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler, { jitterToleranceMs: 1200 });
        push(scheduler, engine, 100, judged(3));
        at(scheduler, 3500, () => {
          expect(engine.state.counters.missed).toBe(0);
          engine.stop();
        });
        // Degraded at 100 + 1000 + 1200: slot 2 (due 2100) is the latest due, slot 1 is skipped.
        expectBeats(
          helpers,
          engine,
          [
            [100, 'p3'],
            [2300, 's4'],
            [3100, 's5'],
          ],
          3500,
        );
      });
    });

    it('makes synthetic frames by the rules: phase, pulse id, windows, downbeat, tempo, hlc, deadline', () => {
      const scheduler = testScheduler();
      const beats: Beat[] = [];
      const ticks: string[] = [];
      scheduler.run(() => {
        const clock = new HybridLogicalClock(AGENT, { physicalNow: () => WALL0 + scheduler.now() });
        const tick = clock.tick.bind(clock);
        clock.tick = () => {
          const stamp = tick();
          ticks.push(stamp);
          return stamp;
        };
        const engine = engineOn(scheduler, { clock });
        engine.beats$.subscribe((beat) => beats.push(beat));
        push(scheduler, engine, 1000, judged(6, { tempo: 120, bpb: 3 }));
        at(scheduler, 2700, () => engine.stop());
      });
      const synthetic = beats.filter((beat) => beat.source === 'synthetic');
      expect(synthetic.map((beat) => beat.beat_index)).toEqual([7, 8, 9]);
      synthetic.forEach((beat, i) => {
        const emittedAt = [1600, 2000, 2500][i]; // 1000 + 500 + 100, then 1000 + k × 500
        expect(beat).toEqual({
          type: 'backbeat.beatframe.v1',
          cluster_id: CLUSTER,
          pulse_id: AGENT,
          beat_index: 7 + i,
          downbeat: (7 + i) % 3 === 0,
          phase: 'degraded',
          hlc: ticks[i],
          deadline_at: new Date(WALL0 + 1000 + 500 * (i + 2)).toISOString(),
          tempo_bpm: 120,
          window_id: windowIdFor(CLUSTER, 7 + i, 3),
          beats_per_bar: 3,
          source: 'synthetic',
          receivedAtMs: WALL0 + emittedAt,
          missedBefore: 0,
          timelineReset: false,
        });
      });
      expect(synthetic[0].receivedAtMs).toBe(WALL0 + 1600);
    });

    it('numbers synthetic beats from 0 when no beat was ever delivered', () => {
      const scheduler = testScheduler();
      let first: Beat | undefined;
      scheduler.run(() => {
        const engine = engineOn(scheduler, { beatsPerBar: 3 });
        engine.beats$.subscribe((beat) => (first ??= beat));
        engine.start();
        at(scheduler, 1200, () => engine.stop());
      });
      expect(first).toMatchObject({
        beat_index: 0,
        downbeat: true,
        beats_per_bar: 3,
        tempo_bpm: 60,
        window_id: windowIdFor(CLUSTER, 0, 3),
      });
    });
  });

  describe('recovery', () => {
    // The next degradation: a frame held up (equal, behind) leaves the grid where it was (beat 9
    // due at 3000: degraded at 4100); a frame ahead of the grid moves it (beat 12 due at 3300).
    const cases: Array<[string, number, string[], number]> = [
      ['ahead: delivered, the gap counted missed', 12, ['p12-2'], 4400],
      ['equal to the last synthetic index: not delivered', 9, [], 4100],
      ['behind: not delivered', 8, [], 4100],
    ];
    it.each(cases)(
      'a frame %s; it ends degradation and re-bases on the grid',
      (_name, index, delivered, degradesAt) => {
        const scheduler = testScheduler();
        const outcomes: FrameOutcome[] = [];
        scheduler.run((helpers) => {
          const engine = engineOn(scheduler);
          push(scheduler, engine, 1000, judged(7));
          push(scheduler, engine, 3300, judged(index), outcomes);
          at(scheduler, 3301, () => expect(engine.state.degraded).toBe(false));
          at(scheduler, 4500, () => engine.stop());
          expectBeats(
            helpers,
            engine,
            [
              [1000, 'p7'],
              [2100, 's8'],
              [3000, 's9'],
              ...delivered.map((value) => [3300, value] as const),
              [degradesAt, `s${Math.max(index, 9) + 1}`],
            ],
            4500,
          );
        });
        expect(outcomes[0].outcome).toBe(delivered.length > 0 ? 'delivered' : 'behind');
      },
    );

    it('a frame at or below the last index still sets the tempo', () => {
      const scheduler = testScheduler();
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler);
        push(scheduler, engine, 1000, judged(7));
        push(scheduler, engine, 1500, judged(7, { tempo: 120 }));
        at(scheduler, 2700, () => engine.stop());
        // 1500 + 500 + 100, then 1500 + 2 × 500: at the new tempo, from the new base.
        expectBeats(
          helpers,
          engine,
          [
            [1000, 'p7'],
            [2100, 's8'],
            [2500, 's9'],
          ],
          2700,
        );
      });
    });
  });

  describe('pulse lock', () => {
    it('rejects another pulse while the followed one is alive, then follows any pulse once it fell silent', () => {
      const scheduler = testScheduler();
      const outcomes: FrameOutcome[] = [];
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler);
        push(scheduler, engine, 1000, judged(1, { pulseId: 'pulse-1' }), outcomes);
        // Refused, and no re-base: the followed pulse still degrades at 2100.
        push(scheduler, engine, 1500, judged(50, { pulseId: 'pulse-2' }), outcomes);
        at(scheduler, 1501, () =>
          expect(engine.state).toMatchObject({
            followedPulseId: 'pulse-1',
            counters: { otherPulse: 1 },
          }),
        );
        push(scheduler, engine, 2500, judged(60, { pulseId: 'pulse-2' }), outcomes);
        push(scheduler, engine, 3000, judged(3, { pulseId: 'pulse-1' }), outcomes);
        at(scheduler, 3200, () => engine.stop());
        expectBeats(
          helpers,
          engine,
          [
            [1000, 'p1'],
            [2100, 's2'],
            [2500, 'p60-57'],
          ],
          3200,
        );
      });
      expect(outcomes.map((o) => (o.outcome === 'rejected' ? o.reason : o.outcome))).toEqual([
        'delivered',
        'other-pulse',
        'delivered',
        'other-pulse',
      ]);
    });

    it('lets another pulse take over once the followed one is silent past the degradation point, even if the timer is held up', () => {
      const scheduler = testScheduler();
      const outcomes: FrameOutcome[] = [];
      let stallMs = 0;
      scheduler.run(() => {
        const engine = engineOn(scheduler, { now: () => scheduler.now() + stallMs });
        push(scheduler, engine, 1000, judged(1, { pulseId: 'pulse-1' }), outcomes);
        // The event loop stalls: by the clock it is 2200 when the next frame is read.
        at(scheduler, 1099, () => (stallMs = 1100));
        push(scheduler, engine, 1100, judged(9, { pulseId: 'pulse-2' }), outcomes);
        at(scheduler, 1200, () => engine.stop());
      });
      expect(outcomes.map((o) => o.outcome)).toEqual(['delivered', 'delivered']);
    });
  });

  describe('timeline reset', () => {
    it('starts with the first pulse frame after only synthetic beats, whatever its index', () => {
      for (const index of [500, 1]) {
        const scheduler = testScheduler();
        scheduler.run((helpers) => {
          const engine = engineOn(scheduler);
          at(scheduler, 10, () => engine.markUnreachable());
          push(scheduler, engine, 2500, judged(index));
          push(scheduler, engine, 3500, judged(index + 1));
          at(scheduler, 3600, () => {
            expect(engine.state.counters).toMatchObject({ timelineResets: 1, missed: 0 });
            engine.stop();
          });
          expectBeats(
            helpers,
            engine,
            [
              [10, 's0'],
              [1010, 's1'],
              [2010, 's2'],
              [2500, `p${index}!`],
              [3500, `p${index + 1}`],
            ],
            3600,
          );
        });
      }
    });

    it('starts with a pulse frame more than one bar (its own) below the last delivered index', () => {
      const scheduler = testScheduler();
      const outcomes: FrameOutcome[] = [];
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler);
        push(scheduler, engine, 1000, judged(100, { bpb: 4 }), outcomes);
        push(scheduler, engine, 1500, judged(96, { bpb: 4 }), outcomes); // one bar below: behind
        push(scheduler, engine, 2000, judged(94, { bpb: 6 }), outcomes); // one bar of 6 below: behind
        push(scheduler, engine, 2500, judged(95, { bpb: 4 }), outcomes); // more than a bar below
        push(scheduler, engine, 3000, judged(96, { bpb: 4 }), outcomes);
        at(scheduler, 3500, () => {
          expect(engine.state.counters).toMatchObject({ timelineResets: 1, missed: 0, behind: 2 });
          engine.stop();
        });
        expectBeats(
          helpers,
          engine,
          [
            [1000, 'p100'],
            [2500, 'p95!'],
            [3000, 'p96'],
          ],
          3500,
        );
      });
      expect(outcomes.map((o) => o.outcome)).toEqual([
        'delivered',
        'behind',
        'behind',
        'delivered',
        'delivered',
      ]);
    });

    it('is not what the first frame ever is', () => {
      const scheduler = testScheduler();
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler);
        push(scheduler, engine, 100, judged(42));
        at(scheduler, 200, () => engine.stop());
        expectBeats(helpers, engine, [[100, 'p42']], 200);
      });
    });
  });

  describe('tempo and bar length', () => {
    it('change at once: the next degradation point, the synthetic period, windows and downbeats', () => {
      const scheduler = testScheduler();
      const beats: Beat[] = [];
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler);
        engine.beats$.subscribe((beat) => beats.push(beat));
        push(scheduler, engine, 1000, judged(4, { tempo: 60, bpb: 4 }));
        push(scheduler, engine, 2000, judged(5, { tempo: 240, bpb: 3 }));
        at(scheduler, 2900, () => {
          expect(engine.state).toMatchObject({ tempoBpm: 240, beatsPerBar: 3 });
          engine.stop();
        });
        // 2000 + 250 + 100, then 2000 + k × 250.
        expectBeats(
          helpers,
          engine,
          [
            [1000, 'p4'],
            [2000, 'p5'],
            [2350, 's6'],
            [2500, 's7'],
            [2750, 's8'],
          ],
          2900,
        );
      });
      expect(beats.slice(2).map((beat) => [beat.downbeat, beat.window_id])).toEqual(
        [6, 7, 8].map((index) => [index % 3 === 0, windowIdFor(CLUSTER, index, 3)]),
      );
    });

    it('uses the configured bar length and the fallback tempo before any frame', () => {
      const scheduler = testScheduler();
      scheduler.run(() => {
        const engine = engineOn(scheduler, { beatsPerBar: 7, fallbackTempoBpm: 90 });
        expect(engine.state).toMatchObject({ tempoBpm: 90, beatsPerBar: 7, degraded: false });
        engine.stop();
      });
    });
  });

  describe('an event-loop stall', () => {
    it('skips the synthetic slots that passed and counts them missed, without a burst', () => {
      const scheduler = testScheduler();
      let stallMs = 0;
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler, { now: () => scheduler.now() + stallMs });
        push(scheduler, engine, 1000, judged(7));
        // Slots are due at 1000 + k × 1000 by the clock; it jumps 3 s ahead at 2500.
        at(scheduler, 2500, () => (stallMs = 3000));
        at(scheduler, 3001, () => expect(engine.state.counters.missed).toBe(3));
        at(scheduler, 4500, () => engine.stop());
        expectBeats(
          helpers,
          engine,
          [
            [1000, 'p7'],
            [2100, 's8'],
            // The timer meant for 3000 finds the clock at 6000: slots 3000, 4000, 5000 passed.
            [3000, 's12-3'],
            [4000, 's13'],
          ],
          4500,
        );
      });
    });

    it('also when it holds up the degradation timer', () => {
      const scheduler = testScheduler();
      let stallMs = 0;
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler, { now: () => scheduler.now() + stallMs });
        push(scheduler, engine, 1000, judged(7));
        at(scheduler, 1500, () => (stallMs = 2500));
        at(scheduler, 3000, () => engine.stop());
        expectBeats(
          helpers,
          engine,
          [
            [1000, 'p7'],
            // Read at 4600: slot 1 (due 2000) is the first, slots 2 and 3 passed in the stall.
            [2100, 's10-2'],
            // Slot 4 is due at 5000 by the clock: 400 ms on.
            [2500, 's11'],
          ],
          3000,
        );
      });
    });
  });

  describe('downbeats$', () => {
    it('emits the first delivered beat of each window, also after a gap or a reset', () => {
      const scheduler = testScheduler();
      scheduler.run(({ expectObservable }) => {
        const engine = engineOn(scheduler);
        push(scheduler, engine, 100, judged(1));
        push(scheduler, engine, 200, judged(2));
        push(scheduler, engine, 300, judged(6)); // a gap into the next bar
        push(scheduler, engine, 400, judged(7));
        push(scheduler, engine, 500, judged(1)); // a reset into the first bar
        push(scheduler, engine, 600, judged(2));
        push(scheduler, engine, 700, judged(9));
        at(scheduler, 800, () => engine.stop());
        const { diagram, values } = marbles(
          [
            [100, 'p1'],
            [300, 'p6-3'],
            [500, 'p1!'],
            [700, 'p9-6'],
          ],
          800,
        );
        expectObservable(engine.downbeats$.pipe(map(label))).toBe(diagram, values);
      });
    });

    it('emits the first synthetic beat of each window', () => {
      const scheduler = testScheduler();
      scheduler.run(({ expectObservable }) => {
        const engine = engineOn(scheduler, { beatsPerBar: 2 });
        engine.start();
        at(scheduler, 4500, () => engine.stop());
        const { diagram, values } = marbles(
          [
            [1100, 's0'],
            [3000, 's2'],
          ],
          4500,
        );
        expectObservable(engine.downbeats$.pipe(map(label))).toBe(diagram, values);
      });
    });
  });

  describe('elapsed beats', () => {
    it('counts max(1, index difference) between delivered beats and one across a reset', () => {
      const scheduler = testScheduler();
      const delivered: Array<[number, number]> = [];
      scheduler.run(({ expectObservable }) => {
        const engine = engineOn(scheduler);
        // The state is updated before a beat is delivered: it holds the count at that beat.
        engine.beats$.subscribe((beat) =>
          delivered.push([beat.beat_index, engine.state.elapsedBeats]),
        );
        push(scheduler, engine, 100, judged(1));
        push(scheduler, engine, 200, judged(2));
        push(scheduler, engine, 300, judged(5));
        push(scheduler, engine, 400, judged(0)); // reset
        push(scheduler, engine, 500, judged(1));
        at(scheduler, 1700, () => {
          expect(engine.state.elapsedBeats).toBe(8);
          engine.stop();
        });
        expectObservable(engine.beats$.pipe(map(() => engine.state.elapsedBeats))).toBe(
          '100ms a 99ms b 99ms c 99ms d 99ms e 1099ms f 99ms |',
          { a: 1, b: 2, c: 5, d: 6, e: 7, f: 8 },
        );
      });
      expect(delivered).toEqual([
        [1, 1],
        [2, 2],
        [5, 5],
        [0, 6],
        [1, 7],
        [2, 8],
      ]);
    });

    it('counts synthetic beats skipped in a stall', () => {
      const scheduler = testScheduler();
      let stallMs = 0;
      scheduler.run(() => {
        const engine = engineOn(scheduler, { now: () => scheduler.now() + stallMs });
        engine.start();
        at(scheduler, 1500, () => (stallMs = 2000));
        at(scheduler, 2500, () => {
          // s0 at 1100; the timer for 2000 reads 4000: s3 after two skipped.
          expect(engine.state).toMatchObject({
            elapsedBeats: 4,
            currentBeat: { beat_index: 3, missedBefore: 2 },
          });
          engine.stop();
        });
      });
    });
  });

  describe('the HLC', () => {
    function spiedClock(scheduler: TestScheduler) {
      const clock = new HybridLogicalClock(AGENT, { physicalNow: () => WALL0 + scheduler.now() });
      return { clock, receive: jest.spyOn(clock, 'receive'), tick: jest.spyOn(clock, 'tick') };
    }

    it('merges each followed pulse frame, delivered or not, unless it is flagged hlcSkew', () => {
      const scheduler = testScheduler();
      scheduler.run(() => {
        const { clock, receive, tick } = spiedClock(scheduler);
        const engine = engineOn(scheduler, { clock });
        push(scheduler, engine, 100, judged(3, { hlcMs: WALL0 + 5000 }));
        push(scheduler, engine, 200, judged(3, { hlcMs: WALL0 + 6000 })); // behind, still merged
        push(scheduler, engine, 300, judged(4, { hlcSkew: true, hlcMs: WALL0 + 90_000_000 }));
        push(scheduler, engine, 400, judged(5, { pulseId: 'pulse-2' })); // other-pulse
        at(scheduler, 500, () => {
          expect(receive.mock.calls.map(([stamp]) => stamp)).toEqual([
            judged(3, { hlcMs: WALL0 + 5000 }).frame.hlc,
            judged(3, { hlcMs: WALL0 + 6000 }).frame.hlc,
          ]);
          expect(clock.current() > judged(3, { hlcMs: WALL0 + 6000 }).frame.hlc).toBe(true);
          expect(tick).not.toHaveBeenCalled();
          expect(engine.state.counters).toMatchObject({ hlcMerged: 2, hlcMergesSkipped: 1 });
          engine.stop();
        });
      });
    });

    it('merges before the beat reaches any subscriber: a subscriber that reads the clock is stamped after the frame', () => {
      const scheduler = testScheduler();
      const seen: string[] = [];
      scheduler.run(() => {
        const { clock, receive } = spiedClock(scheduler);
        const engine = engineOn(scheduler, { clock });
        engine.beats$.subscribe((beat) => {
          seen.push(`receive calls ${receive.mock.calls.length}`);
          if (beat.beat_index === 4)
            seen.push(clock.tick() > beat.hlc ? 'tick after' : 'tick before');
        });
        engine.beats$.subscribe(() => seen.push(`then receive calls ${receive.mock.calls.length}`));
        push(scheduler, engine, 100, judged(3, { hlcMs: WALL0 + 5000 }));
        push(scheduler, engine, 200, judged(4, { hlcMs: WALL0 + 6000 }));
        at(scheduler, 300, () => {
          expect(receive).toHaveBeenCalledTimes(2);
          expect(engine.state.counters).toMatchObject({ hlcMerged: 2, hlcMergesSkipped: 0 });
          engine.stop();
        });
      });
      expect(seen).toEqual([
        'receive calls 1',
        'then receive calls 1',
        'receive calls 2',
        'tick after',
        'then receive calls 2',
      ]);
    });

    it('counts a stamp the clock refuses as skipped', () => {
      const scheduler = testScheduler();
      scheduler.run(() => {
        const { clock } = spiedClock(scheduler);
        const engine = engineOn(scheduler, { clock });
        // Not flagged by the judge, yet too far ahead for the clock (an hour > 60 s).
        push(scheduler, engine, 100, judged(3, { hlcMs: WALL0 + 3_600_000 }));
        at(scheduler, 200, () => {
          expect(engine.state.counters).toMatchObject({ hlcMerged: 0, hlcMergesSkipped: 1 });
          engine.stop();
        });
      });
    });

    it('never merges a legacy frame, which otherwise counts as a pulse beat', () => {
      const scheduler = testScheduler();
      scheduler.run((helpers) => {
        const { clock, receive } = spiedClock(scheduler);
        const engine = engineOn(scheduler, { clock });
        push(scheduler, engine, 1000, judged(5, { source: 'legacy' }));
        push(scheduler, engine, 2050, judged(6, { source: 'legacy' }));
        at(scheduler, 3300, () => {
          expect(receive).not.toHaveBeenCalled();
          expect(engine.state.counters).toMatchObject({ legacyBeats: 2, hlcMergesSkipped: 0 });
          engine.stop();
        });
        expectBeats(
          helpers,
          engine,
          [
            [1000, 'l5'],
            [2050, 'l6'],
            [3150, 's7'],
          ],
          3300,
        );
      });
    });

    it('stamps each synthetic beat with a fresh tick', () => {
      const scheduler = testScheduler();
      const stamps: string[] = [];
      scheduler.run(() => {
        const { clock, tick } = spiedClock(scheduler);
        const engine = engineOn(scheduler, { clock });
        engine.beats$.subscribe((beat) => stamps.push(beat.hlc));
        engine.start();
        at(scheduler, 2500, () => {
          expect(tick).toHaveBeenCalledTimes(2);
          engine.stop();
        });
      });
      expect(stamps).toHaveLength(2);
      expect(stamps[0] < stamps[1]).toBe(true);
    });
  });

  describe('timeDriftMs', () => {
    it('is the arrival of the last pulse frame minus when its beat was due by its own deadline_at', () => {
      const scheduler = testScheduler();
      const drift: number[] = [];
      scheduler.run(() => {
        const engine = engineOn(scheduler);
        // At 1000 (wall WALL0 + 1000) a 60 BPM frame saying the next beat is due at +1970:
        // its own beat was due at +970, so it is 30 ms late.
        const deadline = (ms: number) => new Date(WALL0 + ms).toISOString();
        push(scheduler, engine, 1000, judged(1, { deadlineAt: deadline(1970) }));
        at(scheduler, 1001, () => drift.push(engine.state.timeDriftMs));
        // A 120 BPM frame arriving 20 ms early.
        push(scheduler, engine, 2000, judged(2, { tempo: 120, deadlineAt: deadline(2520) }));
        at(scheduler, 2001, () => drift.push(engine.state.timeDriftMs));
        // Legacy frames leave it as it was.
        push(scheduler, engine, 2500, judged(3, { source: 'legacy', deadlineAt: deadline(0) }));
        at(scheduler, 2501, () => drift.push(engine.state.timeDriftMs));
        at(scheduler, 2600, () => engine.stop());
      });
      expect(drift).toEqual([30, -20, -20]);
    });
  });

  describe('delivered beats', () => {
    it('are frozen, and so are snapshots', () => {
      const scheduler = testScheduler();
      const beats: Beat[] = [];
      scheduler.run(() => {
        const engine = engineOn(scheduler);
        engine.beats$.subscribe((beat) => beats.push(beat));
        push(scheduler, engine, 100, judged(1));
        at(scheduler, 1300, () => {
          expect(Object.isFrozen(engine.state)).toBe(true);
          expect(Object.isFrozen(engine.state.counters)).toBe(true);
          engine.stop();
        });
      });
      expect(beats.map((beat) => beat.source)).toEqual(['pulse', 'synthetic']);
      for (const beat of beats) {
        expect(Object.isFrozen(beat)).toBe(true);
        expect(() => {
          (beat as { beat_index: number }).beat_index = 99;
        }).toThrow(TypeError);
      }
    });

    it('carry the frame, source, receipt time, missed count and reset flag; the state follows', () => {
      const scheduler = testScheduler();
      let outcome: FrameOutcome | undefined;
      scheduler.run(() => {
        const engine = engineOn(scheduler);
        push(scheduler, engine, 100, judged(1));
        at(scheduler, 250, () => (outcome = engine.frame(arrivingAt(judged(3), 250))));
        at(scheduler, 251, () => {
          expect(engine.state).toMatchObject({
            currentBeat: outcome?.outcome === 'delivered' ? outcome.beat : 'missing',
            windowId: windowIdFor(CLUSTER, 3),
            followedPulseId: 'pulse-1',
            counters: { framesReceived: 2, pulseBeats: 2, missed: 1 },
          });
          engine.stop();
        });
      });
      expect(outcome).toEqual({
        outcome: 'delivered',
        lateMs: -850,
        beat: {
          ...arrivingAt(judged(3), 250).frame,
          source: 'pulse',
          receivedAtMs: WALL0 + 250,
          missedBefore: 1,
          timelineReset: false,
        },
      });
    });

    it('reach every subscriber in order: beats$, then downbeats$, with the state already updated', () => {
      const scheduler = testScheduler();
      const order: string[] = [];
      scheduler.run(() => {
        const engine = engineOn(scheduler);
        engine.downbeats$.subscribe((beat) => order.push(`downbeat ${beat.beat_index}`));
        engine.beats$.subscribe((beat) =>
          order.push(`beat ${beat.beat_index} current ${engine.state.currentBeat?.beat_index}`),
        );
        push(scheduler, engine, 100, judged(4));
        at(scheduler, 200, () => engine.stop());
      });
      expect(order).toEqual(['beat 4 current 4', 'downbeat 4']);
    });
  });

  describe('leadObserver and afterDelivery', () => {
    it('are told of each delivered beat, pulse or synthetic, before and after every subscriber', () => {
      const scheduler = testScheduler();
      const order: string[] = [];
      scheduler.run(() => {
        const engine = engineOn(scheduler, {
          leadObserver: {
            next: (beat) => order.push(`lead ${label(beat)}`),
            complete: () => order.push('lead complete'),
          },
          afterDelivery: (beat) => order.push(`after ${label(beat)}`),
        });
        engine.beats$.subscribe({
          next: (beat) => order.push(`beat ${label(beat)}`),
          complete: () => order.push('beats complete'),
        });
        engine.downbeats$.subscribe((beat) => order.push(`downbeat ${label(beat)}`));
        push(scheduler, engine, 100, judged(4));
        push(scheduler, engine, 150, judged(4)); // behind: told to nobody
        // The behind frame re-based the schedule: degradation at 150 + 1000 + 100, with beat 5.
        at(scheduler, 1300, () => engine.stop());
      });
      expect(order).toEqual([
        'lead p4',
        'beat p4',
        'downbeat p4',
        'after p4',
        'lead s5',
        'beat s5',
        'after s5',
        'lead complete',
        'beats complete',
      ]);
    });
  });

  describe('stop()', () => {
    it('completes every stream, clears the timers, and ignores later calls', () => {
      const scheduler = testScheduler();
      let late: FrameOutcome | undefined;
      scheduler.run(({ expectObservable }) => {
        const engine = engineOn(scheduler);
        engine.start();
        at(scheduler, 500, () => engine.stop());
        at(scheduler, 600, () => {
          late = engine.frame(judged(1));
          engine.start();
          engine.markUnreachable();
          engine.stop();
        });
        expectObservable(engine.beats$).toBe('500ms |');
        expectObservable(engine.downbeats$).toBe('500ms |');
      });
      // run() returned: no timer was left to run (a synthetic clock would run forever).
      expect(late).toEqual({ outcome: 'stopped' });
    });

    it('called from a subscriber while a synthetic beat is delivered, leaves no timer behind', () => {
      const scheduler = testScheduler();
      scheduler.run(({ expectObservable }) => {
        const engine = engineOn(scheduler);
        expectObservable(engine.beats$.pipe(map(label))).toBe('1100ms (a|)', { a: 's0' });
        // Subscribed after the expectation's subscriber, which thus sees the beat first.
        at(scheduler, 1, () => engine.beats$.subscribe(() => engine.stop()));
        engine.start();
      });
    });
  });

  describe('beats$ and downbeats$', () => {
    it('are hot: a subscriber gets the beats delivered while it is subscribed, then the end', () => {
      const scheduler = testScheduler();
      scheduler.run(({ expectObservable }) => {
        const engine = engineOn(scheduler);
        push(scheduler, engine, 100, judged(1));
        push(scheduler, engine, 200, judged(2));
        push(scheduler, engine, 300, judged(3));
        at(scheduler, 400, () => engine.stop());
        const labels = engine.beats$.pipe(map(label));
        expectObservable(labels, '150ms ^').toBe('200ms a 99ms b 99ms |', { a: 'p2', b: 'p3' });
        expectObservable(labels, '^ 249ms !').toBe('100ms a 99ms b', { a: 'p1', b: 'p2' });
        expectObservable(labels, '500ms ^').toBe('500ms |');
      });
    });

    it('give a subscriber added during a delivery the next beat, and one removed no more', () => {
      const scheduler = testScheduler();
      const seen: string[] = [];
      scheduler.run(() => {
        const engine = engineOn(scheduler);
        const second = engine.beats$.subscribe((beat) => seen.push(`second ${label(beat)}`));
        let added = false;
        engine.beats$.subscribe((beat) => {
          seen.push(`first ${label(beat)}`);
          if (added) return;
          added = true;
          engine.beats$.subscribe((later) => seen.push(`late ${label(later)}`));
        });
        engine.beats$.subscribe((beat) => {
          seen.push(`third ${label(beat)}`);
          second.unsubscribe();
        });
        push(scheduler, engine, 100, judged(1));
        push(scheduler, engine, 200, judged(2));
        at(scheduler, 300, () => engine.stop());
      });
      expect(seen).toEqual([
        'second p1',
        'first p1',
        'third p1',
        'first p2',
        'third p2',
        'late p2',
      ]);
    });

    it('keep serving the others, and the engine its timeline, when a subscriber throws: rxjs reports it', () => {
      const scheduler = testScheduler();
      const reported: unknown[] = [];
      const order: string[] = [];
      const boom = new Error('boom');
      const before = config.onUnhandledError;
      config.onUnhandledError = (error) => reported.push(error);
      try {
        scheduler.run(() => {
          const engine = engineOn(scheduler, {
            afterDelivery: (beat) => order.push(`after ${label(beat)}`),
          });
          engine.beats$.subscribe(() => {
            throw boom;
          });
          engine.downbeats$.subscribe(() => {
            throw boom;
          });
          engine.beats$.subscribe((beat) => order.push(`beat ${label(beat)}`));
          engine.downbeats$.subscribe((beat) => order.push(`downbeat ${label(beat)}`));
          push(scheduler, engine, 100, judged(4));
          // Degraded at 100 + 1000 + 100: the synthetic beat comes from the engine's own timer.
          at(scheduler, 1300, () => engine.stop());
        });
      } finally {
        config.onUnhandledError = before;
      }
      expect(order).toEqual(['beat p4', 'downbeat p4', 'after p4', 'beat s5', 'after s5']);
      expect(reported).toEqual([boom, boom, boom]);
    });
  });

  describe('options', () => {
    it('tells monotonic time by performance.now() on the default asyncScheduler', () => {
      const perfNow = jest.spyOn(performance, 'now').mockReturnValue(1000);
      try {
        const engine = engineOn(testScheduler(), { scheduler: undefined, wallNow: Date.now });
        engine.frame(judged(1));
        perfNow.mockReturnValue(1500);
        expect(engine.frame(judged(2))).toMatchObject({ outcome: 'delivered', lateMs: -500 });
        engine.stop();
      } finally {
        perfNow.mockRestore();
      }
    });

    it.each([
      ['jitterToleranceMs', -1],
      ['jitterToleranceMs', Number.NaN],
      ['beatsPerBar', 0],
      ['beatsPerBar', 65],
      ['beatsPerBar', 2.5],
      ['fallbackTempoBpm', 0],
      ['fallbackTempoBpm', 6001],
    ])('refuses %s = %p with a RangeError naming it', (field, value) => {
      const scheduler = testScheduler();
      expect(() => engineOn(scheduler, { [field]: value })).toThrow(
        expect.objectContaining({ name: 'RangeError', message: expect.stringContaining(field) }),
      );
    });
  });
});
