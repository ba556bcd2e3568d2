import { SyntheticClock, type SyntheticSlot } from '../../lib/beats/synthetic-clock';
import { at, testScheduler } from './frames';

/**
 * A clock on `scheduler` whose host records what it is told, `deadline` being the silence
 * deadline; its monotonic clock reads virtual time plus `held.ms` (a stalled event loop).
 */
function clockOn(
  scheduler: ReturnType<typeof testScheduler>,
  deadline: { ms: number },
  held = { ms: 0 },
) {
  const told: string[] = [];
  const slots: SyntheticSlot[] = [];
  const clock = new SyntheticClock(scheduler, () => scheduler.now() + held.ms, {
    silenceDeadline: () => deadline.ms,
    silenceReached: (pointMs) => {
      told.push(`silence at ${scheduler.now()} for ${pointMs}`);
      clock.degrade(0, 1000, pointMs);
    },
    slotDue: (slot) => {
      told.push(`slot at ${scheduler.now()}`);
      slots.push(slot);
    },
  });
  return { clock, told, slots };
}

describe('SyntheticClock', () => {
  it('degrades at the silence deadline, then ticks every slot of the schedule', () => {
    const scheduler = testScheduler();
    let result: ReturnType<typeof clockOn> | undefined;
    scheduler.run(() => {
      result = clockOn(scheduler, { ms: 1100 });
      result.clock.watchSilence();
      at(scheduler, 3500, () => result?.clock.stop());
    });
    expect(result?.told).toEqual([
      'silence at 1100 for 1100',
      'slot at 1100',
      'slot at 2000',
      'slot at 3000',
    ]);
    expect(result?.slots[0]).toEqual({ skipped: 0, dueMs: 1000, nextDueMs: 2000, nowMs: 1100 });
    expect(result?.clock.degraded).toBe(true);
  });

  it('follows a deadline that moved later before its timer ran, without degrading early', () => {
    const scheduler = testScheduler();
    const deadline = { ms: 1100 };
    let result: ReturnType<typeof clockOn> | undefined;
    scheduler.run(() => {
      result = clockOn(scheduler, deadline);
      result.clock.watchSilence();
      at(scheduler, 500, () => (deadline.ms = 2100)); // nobody re-arms: the timer re-reads it
      at(scheduler, 2150, () => result?.clock.stop());
    });
    expect(result?.told).toEqual(['silence at 2100 for 2100', 'slot at 2100']);
  });

  it('tells a held-up tick how many slots passed, and keeps the schedule', () => {
    const scheduler = testScheduler();
    const held = { ms: 0 };
    let result: ReturnType<typeof clockOn> | undefined;
    scheduler.run(() => {
      result = clockOn(scheduler, { ms: 1100 }, held);
      result.clock.degrade(0, 1000, 900);
      // The timer of the slot due at 1000 runs when the clock says 3400: slots 1 and 2 passed.
      at(scheduler, 999, () => (held.ms = 2400));
      at(scheduler, 1700, () => result?.clock.stop());
    });
    expect(result?.slots).toEqual([
      { skipped: 2, dueMs: 3000, nextDueMs: 4000, nowMs: 3400 },
      { skipped: 0, dueMs: 4000, nextDueMs: 5000, nowMs: 4000 },
    ]);
  });

  it('stops for good: no timer is left, and later arms do nothing', () => {
    const scheduler = testScheduler();
    let result: ReturnType<typeof clockOn> | undefined;
    scheduler.run(() => {
      result = clockOn(scheduler, { ms: 1100 });
      result.clock.watchSilence();
      at(scheduler, 500, () => {
        result?.clock.stop();
        result?.clock.watchSilence();
        result?.clock.degrade(0, 1000, 500);
      });
    });
    // run() returned: a synthetic schedule left armed would have run forever.
    expect(result?.told).toEqual([]);
  });

  it('recover() ends the schedule; the next silence watch replaces its timer', () => {
    const scheduler = testScheduler();
    const deadline = { ms: 1100 };
    let result: ReturnType<typeof clockOn> | undefined;
    scheduler.run(() => {
      result = clockOn(scheduler, deadline);
      result.clock.degrade(0, 1000, 0);
      at(scheduler, 1500, () => {
        result?.clock.recover();
        deadline.ms = 5000;
        result?.clock.watchSilence();
      });
      at(scheduler, 4000, () => result?.clock.stop());
    });
    expect(result?.told).toEqual(['slot at 1000']);
    expect(result?.clock.degraded).toBe(false);
  });
});
