import { Backoff, backoffDelayMs } from '../../lib/transport/backoff';

describe('backoffDelayMs', () => {
  it('doubles from the base up to the cap, before jitter', () => {
    const middle = () => 0.5;
    expect([0, 1, 2, 3, 4, 5].map((k) => backoffDelayMs(k, 2000, 30000, middle))).toEqual([
      2000, 4000, 8000, 16000, 30000, 30000,
    ]);
  });

  it('strays at most 20 % either way', () => {
    expect(backoffDelayMs(0, 1000, 5000, () => 0)).toBeCloseTo(800);
    expect(backoffDelayMs(0, 1000, 5000, () => 0.999999)).toBeCloseTo(1200, 2);
    expect(backoffDelayMs(10, 1000, 5000, () => 0)).toBeCloseTo(4000);
  });

  it('stays finite for huge attempt numbers', () => {
    expect(backoffDelayMs(5000, 1000, 5000, () => 0.5)).toBe(5000);
  });
});

describe('Backoff', () => {
  it('draws each delay once, so asking again does not move it', () => {
    let draws = 0;
    const backoff = new Backoff(1000, 8000, () => (draws++ % 2 === 0 ? 0 : 0.99));
    const first = backoff.delayMs(0);
    expect(backoff.delayMs(0)).toBe(first);
    expect(backoff.delayMs(0)).toBe(first);
    expect(draws).toBe(1);
    expect(backoff.delayMs(1)).not.toBe(first);
    backoff.reset();
    backoff.delayMs(0);
    expect(draws).toBe(3);
  });

  it('remembers one delay however many dials an outage takes', () => {
    const backoff = new Backoff(10, 1000);
    for (let attempt = 0; attempt < 10_000; attempt++) {
      expect(backoff.delayMs(attempt)).toBe(backoff.delayMs(attempt));
    }
    expect(backoff.remembered).toBe(1);
    backoff.reset();
    expect(backoff.remembered).toBe(0);
  });
});
