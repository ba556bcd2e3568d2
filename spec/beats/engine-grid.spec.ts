/**
 * docs/protocol.md section 9 as amended: the pulse's grid, stale frames, the pulse restarted on its
 * epoch, and the last index. Marble tests on virtual time; a frame's `deadline_at` says when
 * the pulse sent it (`sentAt`), its arrival is when it is pushed.
 */
import { NEVER } from 'rxjs';
import type { Beat } from '../../lib/beats/beat';
import type { FrameOutcome, JudgedFrame } from '../../lib/beats/engine';
import { PulseGrid } from '../../lib/beats/grid';
import { MAX_BEAT_INDEX } from '../../lib/protocol/text';
import { BeatBudgetExceededError } from '../../lib/errors';
import { withinBeats } from '../../lib/operators/within-beats';
import {
  at,
  engineOn,
  judged,
  testScheduler,
  WALL0,
  type FrameSpec,
  expectBeats,
  push,
} from './frames';

/**
 * A frame of beat `index` the pulse sent at virtual time `sentAt` (its `deadline_at` is one
 * period later, on a pulse clock `clockOffsetMs` ahead of ours), arriving at `arrivesAt`.
 */
function sent(
  index: number,
  sentAt: number,
  spec: FrameSpec & { clockOffsetMs?: number } = {},
): JudgedFrame {
  const tempo = spec.tempo ?? 60;
  const deadlineAt = new Date(WALL0 + sentAt + (spec.clockOffsetMs ?? 0) + 60000 / tempo);
  return judged(index, { ...spec, deadlineAt: deadlineAt.toISOString() });
}

const verdicts = (outcomes: FrameOutcome[]) =>
  outcomes.map((o) => (o.outcome === 'rejected' ? o.reason : o.outcome));

describe('PulseGrid', () => {
  it('keeps the earliest offset: a late frame leaves it, an early one moves it at once', () => {
    const grid = new PulseGrid(500);
    grid.restart(10, 1000);
    expect(grid.add(11, 1530, 100)).toBe(false);
    expect(grid.dueOf(12)).toBe(2000);
    grid.add(12, 1990, 100);
    expect(grid.dueOf(13)).toBe(2490);
  });

  it('remembers the last 16 frames only: an early frame forgotten lets the grid go later', () => {
    const grid = new PulseGrid(100);
    grid.restart(0, 0);
    for (let k = 1; k <= 15; k++) grid.add(k, k * 100 + 50, 100);
    expect(grid.dueOf(16)).toBe(1600); // frame 0 is still among the last 16
    grid.add(16, 1650, 100);
    expect(grid.dueOf(17)).toBe(1750); // frame 0 fell out: every remembered offset is 50
  });

  it('restarts from the third frame in a row more than the tolerance late', () => {
    const grid = new PulseGrid(1000);
    grid.restart(0, 0);
    expect(grid.add(1, 1150, 100)).toBe(false);
    expect(grid.add(2, 2150, 100)).toBe(false);
    expect(grid.dueOf(3)).toBe(3000);
    expect(grid.add(3, 3150, 100)).toBe(true);
    expect(grid.dueOf(4)).toBe(4150);
  });

  it('counts late frames in a row only: one on time in between starts the count again', () => {
    const grid = new PulseGrid(1000);
    grid.restart(0, 0);
    grid.add(1, 1150, 100);
    grid.add(2, 2150, 100);
    grid.add(3, 3050, 100);
    expect(grid.add(4, 4150, 100)).toBe(false);
    expect(grid.dueOf(5)).toBe(5000);
  });
});

describe('BeatEngine: the grid', () => {
  it('a late frame does not move the grid: the next degradation and synthetic beats stay on it', () => {
    const scheduler = testScheduler();
    scheduler.run((helpers) => {
      const engine = engineOn(scheduler);
      push(scheduler, engine, 1000, sent(1, 1000));
      push(scheduler, engine, 2000, sent(2, 2000));
      push(scheduler, engine, 3080, sent(3, 3000)); // held up 80 ms
      at(scheduler, 5500, () => engine.stop());
      expectBeats(
        helpers,
        engine,
        [
          [1000, 'p1'],
          [2000, 'p2'],
          [3080, 'p3'],
          [4100, 's4'], // beat 3 was due at 3000: degraded at 3000 + 1000 + 100
          [5000, 's5'],
        ],
        5500,
      );
    });
  });

  it('an early frame moves the grid at once', () => {
    const scheduler = testScheduler();
    scheduler.run((helpers) => {
      const engine = engineOn(scheduler);
      push(scheduler, engine, 1000, sent(1, 1000));
      push(scheduler, engine, 2000, sent(2, 2000));
      push(scheduler, engine, 2950, sent(3, 2950));
      at(scheduler, 5500, () => engine.stop());
      expectBeats(
        helpers,
        engine,
        [
          [1000, 'p1'],
          [2000, 'p2'],
          [2950, 'p3'],
          [4050, 's4'],
          [4950, 's5'],
        ],
        5500,
      );
    });
  });

  it('a frame at or below the last index re-bases on the grid at the last index, not its own', () => {
    const scheduler = testScheduler();
    scheduler.run((helpers) => {
      const engine = engineOn(scheduler);
      push(scheduler, engine, 1000, sent(5, 1000));
      push(scheduler, engine, 1100, sent(3, 1100)); // behind, within a bar
      at(scheduler, 2500, () => engine.stop());
      // Beat 5 is still due at 1000: its successor is synthetic at 2100 (not 0 + 1100).
      expectBeats(
        helpers,
        engine,
        [
          [1000, 'p5'],
          [2100, 's6'],
        ],
        2500,
      );
    });
  });

  it('restarts after three frames in a row more than the tolerance late (the pulse phase moved)', () => {
    const scheduler = testScheduler();
    scheduler.run((helpers) => {
      const engine = engineOn(scheduler);
      push(scheduler, engine, 1000, sent(1, 1000));
      push(scheduler, engine, 2000, sent(2, 2000));
      // From beat 3 the pulse sends 150 ms later than its grid said.
      for (let k = 3; k <= 6; k++) push(scheduler, engine, k * 1000 + 150, sent(k, k * 1000 + 150));
      at(scheduler, 7300, () => {
        expect(engine.state.counters.gridRestarts).toBe(2);
        engine.stop();
      });
      expectBeats(
        helpers,
        engine,
        [
          [1000, 'p1'],
          [2000, 'p2'],
          // Beats 3, 4, 5 were due at 3000, 4000, 5000 on the grid: the silence rule comes
          // first each time, and the late frames are behind.
          [3100, 's3'],
          [4100, 's4'],
          [5100, 's5'],
          // Beat 5 was the third late frame: the grid restarted from it (due at 5150).
          [6150, 'p6'],
          [7250, 's7'],
        ],
        7300,
      );
    });
  });

  it.each([
    ['a tempo change', { tempo: 120 }, 3080 + 500 + 100],
    ['a bar-length change', { bpb: 3 }, 3080 + 1000 + 100],
    ['a timeline reset', { index: 0 }, 3080 + 1000 + 100],
  ])(
    'restarts from the frame on %s: its beat is due at its arrival',
    (_name, change, degradesAt) => {
      const scheduler = testScheduler();
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler);
        push(scheduler, engine, 1000, sent(10, 1000));
        push(scheduler, engine, 2000, sent(11, 2000));
        const { index = 12, ...spec } = change as FrameSpec & { index?: number };
        push(scheduler, engine, 3080, sent(index, 3080, spec)); // 80 ms late on the old grid
        at(scheduler, degradesAt + 1, () => {
          expect(engine.state.counters.gridRestarts).toBe(2);
          engine.stop();
        });
        const reset = index === 0 ? '!' : '';
        expectBeats(
          helpers,
          engine,
          [
            [1000, 'p10'],
            [2000, 'p11'],
            [3080, `p${index}${reset}`],
            [degradesAt, `s${index + 1}`],
          ],
          degradesAt + 1,
        );
      });
    },
  );

  it('restarts on a pulse switch: the new pulse is followed on its own grid', () => {
    const scheduler = testScheduler();
    scheduler.run((helpers) => {
      const engine = engineOn(scheduler);
      push(scheduler, engine, 1000, sent(1, 1000, { pulseId: 'pulse-1' }));
      // pulse-1 falls silent; pulse-2 takes over 50 ms after the grid's beat 3.
      push(scheduler, engine, 3050, sent(3, 3050, { pulseId: 'pulse-2' }));
      at(scheduler, 4500, () => engine.stop());
      expectBeats(
        helpers,
        engine,
        [
          [1000, 'p1'],
          [2100, 's2'],
          [3000, 's3'],
          [4150, 's4'], // beat 3 due at 3050 on pulse-2's grid (4100 on pulse-1's)
        ],
        4500,
      );
    });
  });

  it('legacy frames are due at their arrival and restart the grid each time', () => {
    const scheduler = testScheduler();
    scheduler.run((helpers) => {
      const engine = engineOn(scheduler);
      push(scheduler, engine, 1000, judged(5, { source: 'legacy' }));
      push(scheduler, engine, 2080, judged(6, { source: 'legacy' }));
      at(scheduler, 3300, () => {
        expect(engine.state.counters.gridRestarts).toBe(2);
        engine.stop();
      });
      expectBeats(
        helpers,
        engine,
        [
          [1000, 'l5'],
          [2080, 'l6'],
          [3180, 's7'],
        ],
        3300,
      );
    });
  });

  it('timeDriftMs is the wall-clock lateness of the last fresh pulse frame, and moves no beat', () => {
    const scheduler = testScheduler();
    const drift: number[] = [];
    scheduler.run((helpers) => {
      const engine = engineOn(scheduler);
      // The pulse's wall clock is 40 ms behind ours: its frames look 40 ms late.
      push(scheduler, engine, 1000, sent(1, 1000, { clockOffsetMs: -40 }));
      at(scheduler, 1001, () => drift.push(engine.state.timeDriftMs));
      push(scheduler, engine, 2010, sent(2, 2000, { clockOffsetMs: -40 }));
      at(scheduler, 2011, () => drift.push(engine.state.timeDriftMs));
      at(scheduler, 3500, () => engine.stop());
      expectBeats(
        helpers,
        engine,
        [
          [1000, 'p1'],
          [2010, 'p2'],
          [3100, 's3'],
        ],
        3500,
      );
    });
    expect(drift).toEqual([40, 50]);
  });

  it('reads deadline_at in any RFC 3339 form (Go writes 9 fraction digits, others an offset)', () => {
    const scheduler = testScheduler();
    const drift: number[] = [];
    scheduler.run(() => {
      const engine = engineOn(scheduler);
      // Due at WALL0 + 1000 (deadline one period on), arriving 5.5 ms later... in Go's form.
      const deadlines = ['2023-11-14T22:13:21.994500000Z', '2023-11-14T23:13:22.9945+01:00'];
      push(scheduler, engine, 1000, judged(1, { deadlineAt: deadlines[0] }));
      at(scheduler, 1001, () => drift.push(engine.state.timeDriftMs));
      push(scheduler, engine, 2000, judged(2, { deadlineAt: deadlines[1] }));
      at(scheduler, 2001, () => {
        drift.push(engine.state.timeDriftMs);
        engine.stop();
      });
    });
    expect(new Date(WALL0 + 1000).toISOString()).toBe('2023-11-14T22:13:21.000Z');
    expect(drift.map((ms) => Math.round(ms * 10) / 10)).toEqual([5.5, 5.5]);
  });
});

describe('BeatEngine: stale frames', () => {
  it('after a partition heals, drops every frame it held: no index twice, no reset, the grid kept', () => {
    const scheduler = testScheduler();
    const outcomes: FrameOutcome[] = [];
    const beats: Beat[] = [];
    scheduler.run((helpers) => {
      const engine = engineOn(scheduler);
      engine.beats$.subscribe((beat) => beats.push(beat));
      for (let k = 1; k <= 3; k++) push(scheduler, engine, k * 1000, sent(k, k * 1000));
      // Partition from 3500: beats 4–9 are held and all arrive at 9500, 10 ms apart at most.
      for (let k = 4; k <= 9; k++) push(scheduler, engine, 9500, sent(k, k * 1000), outcomes);
      push(scheduler, engine, 10000, sent(10, 10000), outcomes);
      at(scheduler, 10500, () => {
        expect(engine.state.counters).toMatchObject({
          staleFrames: 5,
          timelineResets: 0,
          gridRestarts: 1,
          missed: 0,
        });
        engine.stop();
      });
      expectBeats(
        helpers,
        engine,
        [
          [1000, 'p1'],
          [2000, 'p2'],
          [3000, 'p3'],
          [4100, 's4'],
          [5000, 's5'],
          [6000, 's6'],
          [7000, 's7'],
          [8000, 's8'],
          [9000, 's9'],
          [10000, 'p10'],
        ],
        10500,
      );
    });
    // Beat 9 was sent 500 ms before the heal: not stale, but already synthetic (behind).
    expect(verdicts(outcomes)).toEqual([
      ...Array<string>(5).fill('stale-frame'),
      'behind',
      'delivered',
    ]);
    expect(elapsedOf(beats)).toBe(10);
  });

  it('after a blocked event loop, delivers at most the freshest queued frame', () => {
    const scheduler = testScheduler();
    const outcomes: FrameOutcome[] = [];
    let stallMs = 0;
    scheduler.run((helpers) => {
      // 600 BPM, 20 ms tolerance; the loop is blocked 3 s at 1050: 30 frames queue up.
      const engine = engineOn(scheduler, {
        jitterToleranceMs: 20,
        now: () => scheduler.now() + stallMs,
        wallNow: () => WALL0 + scheduler.now() + stallMs,
      });
      for (let k = 1; k <= 10; k++)
        push(scheduler, engine, k * 100, sent(k, k * 100, { tempo: 600 }));
      at(scheduler, 1050, () => (stallMs = 3000));
      // Queued frames are read at once when the loop is free again (virtual 1051 = 4051).
      for (let k = 11; k <= 40; k++) {
        push(scheduler, engine, 1051, sent(k, k * 100, { tempo: 600 }), outcomes);
      }
      push(scheduler, engine, 1100, sent(41, 4100, { tempo: 600 }), outcomes);
      at(scheduler, 1150, () => engine.stop());
      const pulse = Array.from({ length: 10 }, (_, i) => [(i + 1) * 100, `p${i + 1}`] as const);
      expectBeats(helpers, engine, [...pulse, [1051, 'p40-29'], [1100, 'p41']], 1150);
    });
    expect(verdicts(outcomes)).toEqual([
      ...Array<string>(29).fill('stale-frame'),
      'delivered',
      'delivered',
    ]);
  });

  it('uses no stale frame: no tempo, no reset, no end of degradation, no HLC merge', () => {
    const scheduler = testScheduler();
    const outcomes: FrameOutcome[] = [];
    scheduler.run((helpers) => {
      const engine = engineOn(scheduler);
      push(scheduler, engine, 1000, sent(50, 1000));
      // Held 2 s: a tempo change and an index far below (a reset if it were news).
      push(scheduler, engine, 2500, sent(3, 500, { tempo: 120, hlcMs: WALL0 + 30_000 }), outcomes);
      at(scheduler, 2501, () =>
        expect(engine.state).toMatchObject({
          tempoBpm: 60,
          degraded: true,
          counters: { hlcMerged: 1, staleFrames: 1, timelineResets: 0 },
        }),
      );
      at(scheduler, 3500, () => engine.stop());
      expectBeats(
        helpers,
        engine,
        [
          [1000, 'p50'],
          [2100, 's51'],
          [3000, 's52'],
        ],
        3500,
      );
    });
    expect(verdicts(outcomes)).toEqual(['stale-frame']);
  });

  it('follows a pulse restarted at index 0 from its first frame (a timeline reset)', () => {
    const scheduler = testScheduler();
    scheduler.run((helpers) => {
      const engine = engineOn(scheduler);
      for (let k = 0; k < 3; k++)
        push(scheduler, engine, 1000 + k * 1000, sent(100 + k, 1000 + k * 1000));
      push(scheduler, engine, 4400, sent(0, 4400));
      push(scheduler, engine, 5400, sent(1, 5400));
      at(scheduler, 5500, () => engine.stop());
      expectBeats(
        helpers,
        engine,
        [
          [1000, 'p100'],
          [2000, 'p101'],
          [3000, 'p102'],
          [4100, 's103'],
          [4400, 'p0!'],
          [5400, 'p1'],
        ],
        5500,
      );
    });
  });

  const HOUR = 3_600_000;
  it.each([
    // The pulse's clock: offset of each frame's deadline_at, frames 1 to 9.
    [
      'back an hour (its frames look an hour late)',
      [0, 0, -HOUR, -HOUR, -HOUR, -HOUR, -HOUR, -HOUR, -HOUR],
      3,
    ],
    // Ahead: early frames are fresh; three in a row move the reference, so back looks late.
    ['ahead an hour for three beats, then back', [0, 0, HOUR, HOUR, HOUR, 0, 0, 0, 0], 6],
  ])(
    'follows a pulse whose clock steps %s again within four periods',
    (_name, offsets, steppedAt) => {
      const scheduler = testScheduler();
      const outcomes: FrameOutcome[] = [];
      scheduler.run((helpers) => {
        const engine = engineOn(scheduler);
        offsets.forEach((clockOffsetMs, i) => {
          const k = i + 1;
          push(scheduler, engine, k * 1000 + 10, sent(k, k * 1000, { clockOffsetMs }), outcomes);
        });
        at(scheduler, 9500, () => engine.stop());
        expectBeats(
          helpers,
          engine,
          offsets.map((_, i) => {
            const k = i + 1;
            if (k < steppedAt || k >= steppedAt + 2) return [k * 1000 + 10, `p${k}`] as const;
            // Two stale frames: synthetic beats on the grid (the first one after the tolerance).
            return [k === steppedAt ? k * 1000 + 110 : k * 1000 + 10, `s${k}`] as const;
          }),
          9500,
        );
      });
      const stale = verdicts(outcomes).flatMap((v, i) => (v === 'stale-frame' ? [i + 1] : []));
      expect(stale).toEqual([steppedAt, steppedAt + 1]);
    },
  );

  it('is not misled by a frame far ahead of the pulse’s clock: a forged or damaged deadline_at', () => {
    const scheduler = testScheduler();
    const outcomes: FrameOutcome[] = [];
    scheduler.run((helpers) => {
      const engine = engineOn(scheduler);
      for (let k = 1; k <= 5; k++) {
        // Beat 3 says the next beat is due in a year (and two frames ahead by an hour later).
        const clockOffsetMs = k === 3 ? 365 * 24 * HOUR : k === 4 ? HOUR : 0;
        push(scheduler, engine, k * 1000, sent(k, k * 1000, { clockOffsetMs }), outcomes);
      }
      at(scheduler, 5500, () => engine.stop());
      expectBeats(
        helpers,
        engine,
        [1, 2, 3, 4, 5].map((k) => [k * 1000, `p${k}`] as const),
        5500,
      );
    });
    expect(verdicts(outcomes)).toEqual(Array<string>(5).fill('delivered'));
  });

  it('keeps a burst of stale frames stale, however many: they are not a period apart', () => {
    const scheduler = testScheduler();
    const outcomes: FrameOutcome[] = [];
    scheduler.run(() => {
      const engine = engineOn(scheduler);
      push(scheduler, engine, 1000, sent(1, 1000));
      for (let k = 2; k <= 20; k++) push(scheduler, engine, 30000 + k, sent(k, k * 1000), outcomes);
      at(scheduler, 30100, () => engine.stop());
    });
    expect(verdicts(outcomes).slice(0, -1)).toEqual(Array<string>(18).fill('stale-frame'));
    // Beat 20 was sent 10 s before: stale too.
    expect(verdicts(outcomes).at(-1)).toBe('stale-frame');
  });
});

describe('BeatEngine: a pulse restarted on its epoch', () => {
  it('continues the same indexes and phase: followers see no reset and no gap', () => {
    const scheduler = testScheduler();
    const outcomes: FrameOutcome[] = [];
    scheduler.run((helpers) => {
      const engine = engineOn(scheduler);
      // 120 BPM on an epoch at virtual 0: beat i due at i × 500. The pulse dies after beat 6,
      // and is started again at 5300 with the same epoch: its first frame is beat 10, sent at
      // once (300 ms after it was due), then beat 11 at 5500.
      for (let k = 2; k <= 6; k++)
        push(scheduler, engine, k * 500, sent(k, k * 500, { tempo: 120 }));
      push(scheduler, engine, 5300, sent(10, 5000, { tempo: 120 }), outcomes);
      push(scheduler, engine, 5500, sent(11, 5500, { tempo: 120 }), outcomes);
      push(scheduler, engine, 6000, sent(12, 6000, { tempo: 120 }), outcomes);
      at(scheduler, 6100, () => {
        expect(engine.state.counters).toMatchObject({ timelineResets: 0, missed: 0 });
        engine.stop();
      });
      expectBeats(
        helpers,
        engine,
        [
          [1000, 'p2'],
          [1500, 'p3'],
          [2000, 'p4'],
          [2500, 'p5'],
          [3000, 'p6'],
          // Synthetic beats land where the pulse's would have (the first after the tolerance).
          [3600, 's7'],
          [4000, 's8'],
          [4500, 's9'],
          [5000, 's10'],
          [5500, 'p11'],
          [6000, 'p12'],
        ],
        6100,
      );
    });
    expect(verdicts(outcomes)).toEqual(['behind', 'delivered', 'delivered']);
  });
});

describe('BeatEngine: the last index, 2^53 − 1', () => {
  it('after a forged frame at 2^53−1 while degraded, the next beat starts a new timeline at 0; a pending budget keeps counting', () => {
    const scheduler = testScheduler();
    let expired: BeatBudgetExceededError | undefined;
    scheduler.run((helpers) => {
      const engine = engineOn(scheduler);
      engine.start();
      at(scheduler, 1200, () =>
        NEVER.pipe(withinBeats(4, engine.beats$)).subscribe({
          error: (error: BeatBudgetExceededError) => (expired = error),
        }),
      );
      push(scheduler, engine, 1500, sent(MAX_BEAT_INDEX, 1500));
      at(scheduler, 4700, () => {
        expect(engine.state.counters.timelineResets).toBe(2);
        engine.stop();
      });
      expectBeats(
        helpers,
        engine,
        [
          [1100, 's0'],
          [1500, `p${MAX_BEAT_INDEX}!`],
          [2600, 's0!'],
          [3500, 's1'],
          [4500, 's2'],
        ],
        4700,
      );
    });
    // Subscribed to the engine's own stream, it counts from the first beat it sees, the forged
    // one: then s0 (a reset counts one), s1, s2.
    expect(expired).toMatchObject({ startBeat: MAX_BEAT_INDEX - 1, expiredAtBeat: 2 });
  });

  it('from a pulse that reaches it: its next frame, 0, starts a new timeline', () => {
    const scheduler = testScheduler();
    scheduler.run((helpers) => {
      const engine = engineOn(scheduler);
      push(scheduler, engine, 1000, sent(MAX_BEAT_INDEX - 1, 1000));
      push(scheduler, engine, 2000, sent(MAX_BEAT_INDEX, 2000));
      push(scheduler, engine, 3000, sent(0, 3000));
      push(scheduler, engine, 4000, sent(1, 4000));
      at(scheduler, 5500, () => engine.stop());
      expectBeats(
        helpers,
        engine,
        [
          [1000, `p${MAX_BEAT_INDEX - 1}`],
          [2000, `p${MAX_BEAT_INDEX}`],
          [3000, 'p0!'],
          [4000, 'p1'],
          [5100, 's2'],
        ],
        5500,
      );
    });
  });

  it('synthetic beats wrap too, in the same phase, counting slots skipped in a stall', () => {
    const scheduler = testScheduler();
    let stallMs = 0;
    scheduler.run((helpers) => {
      const engine = engineOn(scheduler, { now: () => scheduler.now() + stallMs });
      push(scheduler, engine, 1000, sent(MAX_BEAT_INDEX - 2, 1000));
      at(scheduler, 2500, () => (stallMs = 2000)); // slots 3000 and 4000 pass in the stall
      at(scheduler, 4500, () => engine.stop());
      expectBeats(
        helpers,
        engine,
        [
          [1000, `p${MAX_BEAT_INDEX - 2}`],
          [2100, `s${MAX_BEAT_INDEX - 1}`],
          [3000, 's1-2!'],
          [4000, 's2'],
        ],
        4500,
      );
    });
  });
});

/** The elapsed count a sequence of delivered beats makes (docs/protocol.md section 9). */
function elapsedOf(beats: readonly Beat[]): number {
  return beats.reduce(
    (sum, beat, i) =>
      sum +
      (i === 0 || beat.timelineReset ? 1 : Math.max(1, beat.beat_index - beats[i - 1].beat_index)),
    0,
  );
}
