import {
  StallingScheduler,
  advanceTo,
  nextDueMs,
  pendingTimers,
  virtualScheduler,
} from './virtual-time';

describe('advanceTo', () => {
  it('runs each timer due by then at its due time, in due order, and leaves the clock there', () => {
    const scheduler = virtualScheduler(100);
    const ran: [string, number][] = [];
    scheduler.schedule(() => ran.push(['b', scheduler.now()]), 50);
    scheduler.schedule(() => {
      ran.push(['a', scheduler.now()]);
      scheduler.schedule(() => ran.push(['a2', scheduler.now()]), 10);
    }, 20);
    scheduler.schedule(() => ran.push(['late', scheduler.now()]), 500);
    advanceTo(scheduler, 200);
    expect(ran).toEqual([
      ['a', 120],
      ['a2', 130],
      ['b', 150],
    ]);
    expect(scheduler.now()).toBe(200);
    expect(pendingTimers(scheduler)).toBe(1);
    expect(nextDueMs(scheduler)).toBe(600);
  });

  it('stops a timer that reschedules itself for ever at the given instant', () => {
    const scheduler = virtualScheduler();
    let runs = 0;
    scheduler.schedule(function () {
      runs++;
      this.schedule(undefined, 100);
    }, 100);
    advanceTo(scheduler, 1000);
    expect(runs).toBe(10);
    advanceTo(scheduler, 1000); // the clock never goes back, nothing runs twice
    expect(runs).toBe(10);
  });

  it('does not move a cancelled timer', () => {
    const scheduler = virtualScheduler();
    const ran: number[] = [];
    scheduler.schedule(() => ran.push(1), 10).unsubscribe();
    expect(pendingTimers(scheduler)).toBe(0);
    advanceTo(scheduler, 100);
    expect(ran).toEqual([]);
  });
});

describe('StallingScheduler.runNextLate', () => {
  it('runs only the earliest timer, that many ms after it was due', () => {
    const scheduler = new StallingScheduler(1000);
    const ran: [string, number][] = [];
    scheduler.schedule(() => ran.push(['second', scheduler.now()]), 300);
    scheduler.schedule(() => ran.push(['first', scheduler.now()]), 100);
    expect(scheduler.runNextLate(500)).toBe(true);
    expect(ran).toEqual([['first', 1600]]);
    // The other timer is overdue now; it still runs only when told.
    expect(nextDueMs(scheduler)).toBe(1300);
    advanceTo(scheduler, 1600);
    expect(ran).toEqual([
      ['first', 1600],
      ['second', 1600],
    ]);
    expect(scheduler.runNextLate(1)).toBe(false);
  });

  it('runs timers left overdue by a stall in due order, at the time the stall ended', () => {
    const scheduler = new StallingScheduler();
    const ran: [string, number][] = [];
    scheduler.schedule(() => ran.push(['stalled', scheduler.now()]), 100);
    scheduler.schedule(() => ran.push(['due 300', scheduler.now()]), 300);
    scheduler.schedule(() => ran.push(['due 200', scheduler.now()]), 200);
    scheduler.runNextLate(400);
    advanceTo(scheduler, 600);
    expect(ran).toEqual([
      ['stalled', 500],
      ['due 200', 500],
      ['due 300', 500],
    ]);
  });

  it('throws what a timer throws, and cancels the rest', () => {
    const scheduler = new StallingScheduler();
    const failure = new Error('boom');
    scheduler.schedule(() => {
      throw failure;
    }, 10);
    scheduler.schedule(() => undefined, 20);
    expect(() => advanceTo(scheduler, 100)).toThrow(failure);
    expect(pendingTimers(scheduler)).toBe(0);
  });
});
