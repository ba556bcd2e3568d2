import fc from 'fast-check';
import {
  HybridLogicalClock,
  formatHlc,
  hlcPhysicalMs,
  parseHlc,
  MAX_HLC_PHYSICAL,
} from '../../lib/clock/hlc';
import vectors from '../fixtures/vectors/hlc.json';

/** A clock whose wall time the test sets. */
function clockAt(nodeId: string, maxSkewMs?: number) {
  const wall = { now: 0 };
  const clock = new HybridLogicalClock(nodeId, { physicalNow: () => wall.now, maxSkewMs });
  return { clock, wall };
}

/** `(l, c)` of a stamp as one comparable number. */
function order(stamp: string): bigint {
  const parts = parseHlc(stamp);
  if (parts === null) throw new Error(`not a stamp: ${stamp}`);
  return (BigInt(parts.l) << 16n) | BigInt(parts.c);
}

describe('HybridLogicalClock vectors (docs/protocol.md section 7)', () => {
  for (const vector of vectors.cases) {
    it(vector.name, () => {
      const { clock, wall } = clockAt(vector.node, vector.max_skew_ms);
      for (const step of vector.steps) {
        wall.now = step.pt;
        const before = clock.current();
        const stamp = step.op === 'now' ? clock.tick() : clock.receive(step.stamp!);
        expect(stamp).toBe(step.expect);
        expect(clock.current()).toBe(step.expect ?? before);
      }
    });
  }
});

describe('HybridLogicalClock', () => {
  it('reads the (0, 0) stamp before any event, and the last stamp without advancing', () => {
    const { clock, wall } = clockAt('agent-1');
    expect(clock.current()).toBe('000000000000:0000:agent-1');
    wall.now = 1700000000000;
    const stamp = clock.tick();
    expect(clock.current()).toBe(stamp);
    expect(clock.current()).toBe(stamp);
    expect(clock.tick()).toBe('018bcfe56800:0001:agent-1');
  });

  it('uses Date.now (as the monotonic clock carries it) and a 60000 ms skew by default', () => {
    const clock = new HybridLogicalClock('agent-1');
    const before = Date.now();
    const l = hlcPhysicalMs(clock.tick())!;
    // Carried from a whole-ms Date.now read at start: up to 1 ms behind it.
    expect(l).toBeGreaterThanOrEqual(before - 1);
    expect(l).toBeLessThanOrEqual(Date.now());
    expect(clock.receive(formatHlc(Date.now() + 600000, 0, 'pulse'))).toBeNull();
  });

  it('by default, is not moved by a wall-clock step an hour ahead', () => {
    const clock = new HybridLogicalClock('agent-1');
    const before = Date.now();
    const stepped = jest.spyOn(Date, 'now').mockImplementation(() => before + 3_600_000);
    let l: number;
    try {
      l = hlcPhysicalMs(clock.tick())!;
    } finally {
      stepped.mockRestore();
    }
    expect(l).toBeLessThanOrEqual(Date.now());
    expect(l).toBeGreaterThanOrEqual(before - 1);
  });

  it('uses a given physicalNow as it is', () => {
    let wall = 1_700_000_000_000;
    const clock = new HybridLogicalClock('agent-1', { physicalNow: () => wall });
    clock.tick();
    wall += 3_600_000;
    expect(hlcPhysicalMs(clock.tick())).toBe(wall);
  });

  it.each([
    ['empty', ''],
    ['a dot', 'has.dot'],
    ['a space', 'a b'],
    ['a wildcard', '*'],
    ['129 characters', 'a'.repeat(129)],
    ['a number', 42],
    ['undefined', undefined],
  ])('refuses a node id that is %s', (_label, nodeId) => {
    expect(() => new HybridLogicalClock(nodeId as string)).toThrow(RangeError);
    expect(() => new HybridLogicalClock(nodeId as string)).toThrow(/nodeId/);
  });

  it('accepts a 128-character node id', () => {
    const nodeId = 'A-z_9'.repeat(25) + 'abc';
    expect(new HybridLogicalClock(nodeId).current()).toBe(`000000000000:0000:${nodeId}`);
  });

  it.each([-1, Number.NaN])('refuses maxSkewMs %p', (maxSkewMs) => {
    expect(() => new HybridLogicalClock('n', { maxSkewMs })).toThrow(/maxSkewMs/);
  });

  it('accepts a stamp exactly maxSkewMs ahead and refuses one a millisecond further', () => {
    const { clock, wall } = clockAt('n', 1000);
    wall.now = 5000;
    expect(clock.receive(formatHlc(6001, 0, 'p'))).toBeNull();
    expect(clock.current()).toBe('000000000000:0000:n');
    expect(clock.receive(formatHlc(6000, 0, 'p'))).toBe(formatHlc(6000, 1, 'n'));
  });

  it.each([
    ['a non-string', 12345],
    ['uppercase hex', '00000000000A:0000:n'],
    ['a short l', '0000000000a:0000:n'],
    ['a long c', '00000000000a:00000:n'],
    ['no node', '00000000000a:0000:'],
    ['a trailing newline', '00000000000a:0000:n\n'],
    ['a 129-character node', `00000000000a:0000:${'n'.repeat(129)}`],
  ])('rejects %s and keeps its state', (_label, stamp) => {
    const { clock, wall } = clockAt('n');
    wall.now = 100;
    clock.tick();
    expect(clock.receive(stamp as string)).toBeNull();
    expect(clock.current()).toBe(formatHlc(100, 0, 'n'));
    expect(clock.tick()).toBe(formatHlc(100, 1, 'n'));
  });

  it('never goes back while the wall clock jumps around', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            pt: fc.integer({ min: 0, max: 2 ** 40 }),
            received: fc.option(
              fc.record({
                l: fc.integer({ min: 0, max: 2 ** 40 }),
                c: fc.integer({ min: 0, max: 0xffff }),
              }),
            ),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        (steps) => {
          const { clock, wall } = clockAt('n', 2 ** 40);
          let last = clock.current();
          let maxPt = 0;
          for (const { pt, received } of steps) {
            wall.now = pt;
            maxPt = Math.max(maxPt, pt);
            const message = received === null ? null : formatHlc(received.l, received.c, 'p');
            const stamp = message === null ? clock.tick() : clock.receive(message);
            expect(stamp).not.toBeNull();
            expect(order(stamp!)).toBeGreaterThan(order(last));
            expect(stamp! > last).toBe(true);
            expect(hlcPhysicalMs(stamp!)).toBeGreaterThanOrEqual(maxPt);
            if (message !== null) expect(order(stamp!)).toBeGreaterThan(order(message));
            last = stamp!;
          }
        },
      ),
    );
  });

  it('carries every counter overflow into l, again and again', () => {
    const { clock, wall } = clockAt('n');
    wall.now = 1700000000000;
    const ticks = 3 * 0x10000 + 5;
    const stamps: string[] = [];
    for (let k = 0; k < ticks; k++) stamps.push(clock.tick());
    // Plain loops, not one expect per tick: 200 000 expect calls would take seconds.
    const wrong = stamps.findIndex(
      (stamp, k) =>
        stamp !== formatHlc(1700000000000 + Math.floor(k / 0x10000), k % 0x10000, 'n') ||
        (k > 0 && !(stamp > stamps[k - 1])),
    );
    expect(wrong).toBe(-1);
    expect(stamps[0x10000]).toBe('018bcfe56801:0000:n');
    expect(stamps[ticks - 1]).toBe('018bcfe56803:0004:n');
    // The wall clock catching up with a carried l does not reset the counter.
    wall.now = 1700000000003;
    expect(clock.tick()).toBe(formatHlc(1700000000003, 5, 'n'));
    wall.now = 1700000000004;
    expect(clock.tick()).toBe(formatHlc(1700000000004, 0, 'n'));
  });

  it('carries an overflow of a received counter into l', () => {
    const { clock, wall } = clockAt('n');
    wall.now = 10;
    expect(clock.receive(formatHlc(10, 0xffff, 'p'))).toBe(formatHlc(11, 0, 'n'));
    expect(clock.receive(formatHlc(11, 0xffff, 'p'))).toBe(formatHlc(12, 0, 'n'));
  });

  it('holds l at 2^48−1 when the wall clock reads 2^53 or beyond', () => {
    for (const now of [2 ** 53 - 1, 2 ** 53, Number.MAX_VALUE, Infinity]) {
      const { clock, wall } = clockAt('n');
      wall.now = now;
      expect(clock.tick()).toBe('ffffffffffff:0000:n');
      expect(clock.tick()).toBe('ffffffffffff:0001:n');
      expect(hlcPhysicalMs(clock.current())).toBe(MAX_HLC_PHYSICAL);
    }
  });

  it('refuses to wrap once l and c are both at their maximum', () => {
    const { clock, wall } = clockAt('n');
    wall.now = 2 ** 53;
    expect(clock.receive('ffffffffffff:ffff:p')).toBeNull();
    expect(clock.receive('ffffffffffff:fffe:p')).toBe('ffffffffffff:ffff:n');
    expect(() => clock.tick()).toThrow(RangeError);
    expect(clock.current()).toBe('ffffffffffff:ffff:n');
  });

  it('keeps counting when the wall clock is broken', () => {
    for (const now of [Number.NaN, -5, -Infinity]) {
      const { clock, wall } = clockAt('n');
      wall.now = 1000;
      clock.tick();
      wall.now = now;
      expect(clock.tick()).toBe(formatHlc(1000, 1, 'n'));
      expect(clock.receive(formatHlc(1000, 7, 'p'))).toBe(formatHlc(1000, 8, 'n'));
    }
  });

  it('floors a fractional wall clock to whole milliseconds', () => {
    const { clock, wall } = clockAt('n');
    wall.now = 1234.9;
    expect(clock.tick()).toBe(formatHlc(1234, 0, 'n'));
  });
});

describe('parseHlc and hlcPhysicalMs', () => {
  it('parse a stamp into its parts', () => {
    expect(parseHlc('018bcfe56800:00ff:agent-1')).toEqual({
      l: 1700000000000,
      c: 255,
      node: 'agent-1',
    });
    expect(hlcPhysicalMs('018bcfe56800:00ff:agent-1')).toBe(1700000000000);
    expect(parseHlc('ffffffffffff:ffff:x')).toEqual({ l: 2 ** 48 - 1, c: 0xffff, node: 'x' });
  });

  it.each(['', 'yesterday', '018bcfe56800:0001', '018BCFE56800:0001:N', '018bcfe56800:0001:a.b'])(
    'give null for %p',
    (text) => {
      expect(parseHlc(text)).toBeNull();
      expect(hlcPhysicalMs(text)).toBeNull();
    },
  );

  it('give null for a non-string', () => {
    expect(parseHlc(null as unknown as string)).toBeNull();
    expect(hlcPhysicalMs({} as unknown as string)).toBeNull();
  });

  it('round-trip with formatHlc', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_HLC_PHYSICAL }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/),
        (l, c, node) => {
          const text = formatHlc(l, c, node);
          expect(text).toMatch(/^[0-9a-f]{12}:[0-9a-f]{4}:/);
          expect(parseHlc(text)).toEqual({ l, c, node });
        },
      ),
    );
  });
});
