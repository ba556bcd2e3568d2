import { carriedWallClock } from '../../lib/clock/carried-wall-clock';
import { HybridLogicalClock, hlcPhysicalMs, parseHlc } from '../../lib/clock/hlc';

const HOUR_MS = 3_600_000;
const WALL0 = 1_700_000_000_000;

/**
 * A machine whose clocks the test moves: `advance(ms)` moves both the monotonic and the wall
 * clock, `step(ms)` moves only the wall clock (what `date -s` or a bad NTP answer does).
 */
function machine() {
  const time = { mono: 5_000, step: 0 };
  const wallNow = () => WALL0 + time.mono + time.step;
  const monoNow = () => time.mono;
  return {
    wallNow,
    monoNow,
    /** The true wall time: what an observer whose clock was never stepped reads. */
    trueNow: () => WALL0 + time.mono,
    advance: (ms: number) => void (time.mono += ms),
    step: (ms: number) => void (time.step += ms),
  };
}

/** `(l, c)` of a stamp as one comparable number. */
function order(stamp: string): bigint {
  const parts = parseHlc(stamp)!;
  return (BigInt(parts.l) << 16n) | BigInt(parts.c);
}

/**
 * Runs an agent that stamps every 100 ms for `ms`, returning each stamp's lead over the true
 * wall time and whether the stamps only ever grew.
 */
function stampFor(
  m: ReturnType<typeof machine>,
  clock: HybridLogicalClock,
  ms: number,
  leads: number[],
  stamps: string[],
): void {
  for (let t = 0; t < ms; t += 100) {
    m.advance(100);
    const stamp = clock.tick();
    stamps.push(stamp);
    leads.push(hlcPhysicalMs(stamp)! - m.trueNow());
  }
}

function strictlyIncreasing(stamps: readonly string[]): boolean {
  return stamps.every((stamp, i) => i === 0 || order(stamp) > order(stamps[i - 1]));
}

describe('carriedWallClock', () => {
  it('is the wall time read at start plus monotonic time since', () => {
    const m = machine();
    const pt = carriedWallClock({ wallNow: m.wallNow, monoNow: m.monoNow });
    expect(pt()).toBe(m.trueNow());
    m.advance(1234.5);
    expect(pt()).toBe(m.trueNow());
  });

  it('leaves no trace of a +1 h step undone after 12 s: no stamp is ever ahead', () => {
    const m = machine();
    const clock = new HybridLogicalClock('agent-1', {
      physicalNow: carriedWallClock({ wallNow: m.wallNow, monoNow: m.monoNow }),
    });
    const leads: number[] = [];
    const stamps: string[] = [];
    stampFor(m, clock, 5_000, leads, stamps);
    m.step(HOUR_MS);
    stampFor(m, clock, 12_000, leads, stamps);
    m.step(-HOUR_MS);
    stampFor(m, clock, 120_000, leads, stamps);
    expect(Math.max(...leads.map(Math.abs))).toBe(0);
    expect(strictlyIncreasing(stamps)).toBe(true);
  });

  it('leaves no freeze after a −1 h step undone after 12 s: stamps keep the true time', () => {
    const m = machine();
    const clock = new HybridLogicalClock('agent-1', {
      physicalNow: carriedWallClock({ wallNow: m.wallNow, monoNow: m.monoNow }),
    });
    const leads: number[] = [];
    const stamps: string[] = [];
    stampFor(m, clock, 5_000, leads, stamps);
    m.step(-HOUR_MS);
    stampFor(m, clock, 12_000, leads, stamps);
    m.step(HOUR_MS);
    stampFor(m, clock, 120_000, leads, stamps);
    // A frozen `l` would fall behind the true time by up to the step's length.
    expect(Math.max(...leads.map(Math.abs))).toBe(0);
    expect(strictlyIncreasing(stamps)).toBe(true);
    const counters = stamps.map((stamp) => parseHlc(stamp)!.c);
    expect(Math.max(...counters)).toBe(0); // every stamp took the physical time, none the counter
  });

  it.each([
    ['+1 h', HOUR_MS],
    ['−1 h', -HOUR_MS],
    ['+2 s', 2_000],
  ])('follows a lasting %s correction after 60 s of disagreement, not before', (_name, stepMs) => {
    const m = machine();
    const pt = carriedWallClock({ wallNow: m.wallNow, monoNow: m.monoNow });
    m.advance(1000);
    m.step(stepMs);
    const seenAt: number[] = [];
    for (let t = 0; t <= 70_000; t += 100) {
      if (pt() === m.wallNow()) seenAt.push(t);
      m.advance(100);
    }
    // The first read of the step starts the count: followed 60 s later, then kept.
    expect(seenAt[0]).toBe(60_000);
    expect(seenAt).toHaveLength(101);
  });

  it('stamps stay strictly increasing when a lasting −1 h correction is followed', () => {
    const m = machine();
    const clock = new HybridLogicalClock('agent-1', {
      physicalNow: carriedWallClock({ wallNow: m.wallNow, monoNow: m.monoNow }),
    });
    const leads: number[] = [];
    const stamps: string[] = [];
    stampFor(m, clock, 1_000, leads, stamps);
    m.step(-HOUR_MS);
    stampFor(m, clock, 70_000, leads, stamps);
    expect(strictlyIncreasing(stamps)).toBe(true);
    // The step is first read at stamp 10 and followed 60 s later, at stamp 610: from then on
    // `l` holds where it was (the clock never goes back) while the counter grows.
    expect(leads.slice(0, 610).every((lead) => lead === 0)).toBe(true);
    expect(hlcPhysicalMs(stamps[stamps.length - 1])).toBe(hlcPhysicalMs(stamps[609]));
    expect(parseHlc(stamps[stamps.length - 1])!.c).toBe(stamps.length - 1 - 609);
  });

  it('restarts the count when the wall clock agrees again in between', () => {
    const m = machine();
    const pt = carriedWallClock({ wallNow: m.wallNow, monoNow: m.monoNow });
    for (let round = 0; round < 5; round++) {
      m.step(HOUR_MS);
      for (let t = 0; t < 50_000; t += 1000) {
        m.advance(1000);
        expect(pt()).toBe(m.trueNow());
      }
      m.step(-HOUR_MS);
      m.advance(1000);
      expect(pt()).toBe(m.trueNow());
    }
  });

  it('takes a disagreement within the tolerance for none: drift up to it is never followed', () => {
    const m = machine();
    const pt = carriedWallClock({ wallNow: m.wallNow, monoNow: m.monoNow, toleranceMs: 1000 });
    m.step(1000);
    for (let t = 0; t < 300_000; t += 1000) {
      m.advance(1000);
      expect(pt()).toBe(m.trueNow());
    }
    m.step(1);
    m.advance(60_000);
    pt();
    m.advance(1);
    expect(pt()).toBe(m.trueNow());
    m.advance(60_000);
    expect(pt()).toBe(m.wallNow());
  });

  it('honours followAfterMs and toleranceMs', () => {
    const m = machine();
    const pt = carriedWallClock({
      wallNow: m.wallNow,
      monoNow: m.monoNow,
      followAfterMs: 5_000,
      toleranceMs: 10,
    });
    m.step(20);
    expect(pt()).toBe(m.trueNow());
    m.advance(4_999);
    expect(pt()).toBe(m.trueNow());
    m.advance(1);
    expect(pt()).toBe(m.wallNow());
  });

  it('passes a wall clock that reads no number through until it does, and keeps time over one', () => {
    let wall = NaN;
    let mono = 0;
    const pt = carriedWallClock({ wallNow: () => wall, monoNow: () => mono });
    expect(pt()).toBeNaN();
    wall = WALL0;
    expect(pt()).toBe(WALL0);
    mono = 500;
    wall = NaN;
    expect(pt()).toBe(WALL0 + 500);
  });

  it('uses Date.now and performance.now by default: a stubbed Date.now step does not move it', () => {
    const pt = carriedWallClock();
    const before = Date.now();
    const now = jest.spyOn(Date, 'now').mockImplementation(() => before + HOUR_MS);
    try {
      expect(Math.abs(pt() - before)).toBeLessThan(5_000);
    } finally {
      now.mockRestore();
    }
    expect(Math.abs(pt() - Date.now())).toBeLessThanOrEqual(1000);
  });

  it.each([
    [{ followAfterMs: -1 }, RangeError, /followAfterMs/],
    [{ followAfterMs: Infinity }, RangeError, /followAfterMs/],
    [{ toleranceMs: NaN }, RangeError, /toleranceMs/],
    [{ toleranceMs: '5' as unknown as number }, RangeError, /toleranceMs/],
    [{ wallNow: 5 as unknown as () => number }, TypeError, /wallNow/],
    [{ monoNow: null as unknown as () => number }, TypeError, /monoNow/],
  ])('refuses %p', (options, type, message) => {
    expect(() => carriedWallClock(options)).toThrow(type);
    expect(() => carriedWallClock(options)).toThrow(message);
  });
});
