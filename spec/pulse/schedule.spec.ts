import fc from 'fast-check';
import type { VirtualTimeScheduler } from 'rxjs';
import { startBeatSchedule, type ScheduledBeat } from '../../lib/pulse/schedule';
import { MAX_BEAT_INDEX } from '../../lib/protocol/text';
import {
  advanceTo,
  nextDueMs,
  pendingTimers,
  StallingScheduler,
  virtualScheduler,
} from '../support/virtual-time';

/** A schedule on `scheduler`, recording its beats: a `StallingScheduler` where a timer runs late. */
function recordSchedule<S extends VirtualTimeScheduler>(
  scheduler: S,
  options: { startIndex?: number; tempoBpm?: number } = {},
) {
  const beats: ScheduledBeat[] = [];
  const schedule = startBeatSchedule({
    scheduler,
    startIndex: options.startIndex ?? 0,
    tempoBpm: options.tempoBpm ?? 120,
    onBeat: (beat) => beats.push(beat),
  });
  return { scheduler, beats, schedule };
}

describe('startBeatSchedule', () => {
  it('sends the first beat at once, then one every period, on absolute due times', () => {
    const { scheduler, beats, schedule } = recordSchedule(virtualScheduler(1000), {
      startIndex: 7,
    });
    expect(beats.map((beat) => beat.index)).toEqual([7]);
    advanceTo(scheduler, 3000);
    expect(beats.map((beat) => [beat.index, beat.dueAtMs, beat.nowMs])).toEqual([
      [7, 1000, 1000],
      [8, 1500, 1500],
      [9, 2000, 2000],
      [10, 2500, 2500],
      [11, 3000, 3000],
    ]);
    expect(beats.every((beat) => beat.nextDueAtMs === beat.dueAtMs + 500)).toBe(true);
    expect(beats.every((beat) => beat.tempoBpm === 120 && beat.skipped === 0)).toBe(true);
    expect(schedule.beatIndex()).toBe(11);
  });

  it('does not accumulate drift when every callback runs late', () => {
    const { scheduler, beats } = recordSchedule(new StallingScheduler(), { tempoBpm: 60 });
    for (let i = 0; i < 20; i++) scheduler.runNextLate(150);
    // Beat k is still due at k seconds: each wait is shortened by the lateness before it.
    expect(beats.map((beat) => beat.dueAtMs)).toEqual(beats.map((_, k) => k * 1000));
    expect(beats.slice(1).map((beat) => beat.nowMs - beat.dueAtMs)).toEqual(
      beats.slice(1).map(() => 150),
    );
    expect(nextDueMs(scheduler)).toBe(21000);
  });

  it('keeps beat k due at start + k periods for any lateness below a period', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6000 }),
        fc.array(fc.double({ min: 0, max: 0.99, noNaN: true }), { minLength: 1, maxLength: 40 }),
        (tempoBpm, latenessShares) => {
          const periodMs = 60000 / tempoBpm;
          const { scheduler, beats } = recordSchedule(new StallingScheduler(123), { tempoBpm });
          for (const share of latenessShares) scheduler.runNextLate(share * periodMs);
          beats.forEach((beat, k) => {
            expect(beat.index).toBe(k);
            expect(beat.dueAtMs).toBeCloseTo(123 + k * periodMs, 6);
            expect(beat.skipped).toBe(0);
          });
        },
      ),
    );
  });

  it('skips the slots that pass during a stall instead of sending them in a burst', () => {
    const { scheduler, beats } = recordSchedule(new StallingScheduler());
    scheduler.runNextLate(1300); // beat 1 was due at 500; the callback runs at 1800
    expect(beats.map((beat) => [beat.index, beat.skipped, beat.dueAtMs])).toEqual([
      [0, 0, 0],
      [3, 2, 1500],
    ]);
    expect(nextDueMs(scheduler)).toBe(2000);
    advanceTo(scheduler, 2000);
    expect(beats.at(-1)).toMatchObject({ index: 4, skipped: 0, nowMs: 2000 });
  });

  it('applies a new tempo from the next beat, which keeps the time it was promised', () => {
    const { scheduler, beats, schedule } = recordSchedule(virtualScheduler());
    advanceTo(scheduler, 1200); // beats 0, 1, 2 at 120 BPM
    schedule.setTempo(60);
    advanceTo(scheduler, 4000);
    expect(
      beats.map((beat) => [beat.index, beat.tempoBpm, beat.dueAtMs, beat.nextDueAtMs]),
    ).toEqual([
      [0, 120, 0, 500],
      [1, 120, 500, 1000],
      [2, 120, 1000, 1500],
      [3, 60, 1500, 2500],
      [4, 60, 2500, 3500],
      [5, 60, 3500, 4500],
    ]);
  });

  it('re-anchors at the tempo change: later lateness does not shift the new grid', () => {
    const { scheduler, beats, schedule } = recordSchedule(new StallingScheduler(), {
      tempoBpm: 60,
    });
    schedule.setTempo(240); // period 250 from beat 1 (due at 1000)
    for (let i = 0; i < 8; i++) scheduler.runNextLate(40);
    expect(beats.slice(1).map((beat) => beat.dueAtMs)).toEqual([
      1000, 1250, 1500, 1750, 2000, 2250, 2500, 2750,
    ]);
  });

  it('takes the last of several tempo changes made between two beats', () => {
    const { scheduler, beats, schedule } = recordSchedule(virtualScheduler());
    schedule.setTempo(30);
    schedule.setTempo(240);
    advanceTo(scheduler, 750);
    expect(beats.map((beat) => [beat.index, beat.tempoBpm, beat.dueAtMs])).toEqual([
      [0, 120, 0],
      [1, 240, 500],
      [2, 240, 750],
    ]);
  });

  it('stops for good, idempotently, and ignores a tempo change after stopping', () => {
    const { scheduler, beats, schedule } = recordSchedule(virtualScheduler());
    advanceTo(scheduler, 500);
    schedule.stop();
    schedule.stop();
    schedule.setTempo(6000);
    expect(pendingTimers(scheduler)).toBe(0);
    advanceTo(scheduler, 10000);
    expect(beats.map((beat) => beat.index)).toEqual([0, 1]);
    expect(schedule.beatIndex()).toBe(1);
  });

  it('stops when a beat callback stops it', () => {
    const scheduler = virtualScheduler();
    const indexes: number[] = [];
    const schedule = startBeatSchedule({
      scheduler,
      startIndex: 0,
      tempoBpm: 120,
      onBeat: (beat) => {
        indexes.push(beat.index);
        if (beat.index === 2) schedule.stop();
      },
    });
    advanceTo(scheduler, 5000);
    expect(indexes).toEqual([0, 1, 2]);
    expect(pendingTimers(scheduler)).toBe(0);
  });

  it('goes on when a beat callback throws, telling onError', () => {
    const scheduler = virtualScheduler();
    const errors: unknown[] = [];
    const indexes: number[] = [];
    const failure = new Error('boom');
    startBeatSchedule({
      scheduler,
      startIndex: 0,
      tempoBpm: 120,
      onBeat: (beat) => {
        indexes.push(beat.index);
        if (beat.index % 2 === 0) throw failure;
      },
      onError: (error) => {
        errors.push(error);
        throw new Error('the reporter fails too');
      },
    });
    advanceTo(scheduler, 1500);
    expect(indexes).toEqual([0, 1, 2, 3]);
    expect(errors).toEqual([failure, failure]);
  });

  it('goes on after the largest beat index: the next beat is 0, in the same phase (a new timeline)', () => {
    const { scheduler, beats, schedule } = recordSchedule(virtualScheduler(), {
      startIndex: MAX_BEAT_INDEX - 1,
    });
    advanceTo(scheduler, 2000);
    expect(beats.map((beat) => [beat.index, beat.dueAtMs])).toEqual([
      [MAX_BEAT_INDEX - 1, 0],
      [MAX_BEAT_INDEX, 500],
      [0, 1000],
      [1, 1500],
      [2, 2000],
    ]);
    expect(pendingTimers(scheduler)).toBe(1);
    expect(schedule.beatIndex()).toBe(2);
  });

  it('counts the slots a stall skips across the wrap', () => {
    const { scheduler, beats } = recordSchedule(new StallingScheduler(), {
      startIndex: MAX_BEAT_INDEX - 1,
    });
    // The timer of 500 runs at 1600: beat 1 (due at 1500) goes out; MAX and 0 were skipped.
    scheduler.runNextLate(1100);
    expect(beats.map((beat) => [beat.index, beat.skipped])).toEqual([
      [MAX_BEAT_INDEX - 1, 0],
      [1, 2],
    ]);
  });

  it('starts from an earlier due time: the index due then goes out at once, the next on its time', () => {
    const scheduler = virtualScheduler(1000);
    const beats: ScheduledBeat[] = [];
    startBeatSchedule({
      scheduler,
      startIndex: 40,
      startDueAtMs: 700,
      tempoBpm: 120,
      onBeat: (beat) => beats.push(beat),
    });
    advanceTo(scheduler, 1700);
    expect(beats.map((beat) => [beat.index, beat.dueAtMs, beat.nowMs])).toEqual([
      [40, 700, 1000],
      [41, 1200, 1200],
      [42, 1700, 1700],
    ]);
  });
});
