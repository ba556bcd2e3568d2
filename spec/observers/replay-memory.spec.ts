import {
  DEFAULT_MAX_AGENTS,
  ReplayMemory,
  sweepIntervalMs,
  type AcceptedStamp,
} from '../../lib/observers/replay-memory';
import { formatHlc } from '../../lib/clock/hlc';

const MAX_AGE_MS = 300000;

function stampAt(physicalMs: number, agent = 'agent'): AcceptedStamp {
  return { hlc: formatHlc(physicalMs, 0, agent), physicalMs, digest: `digest-${physicalMs}` };
}

describe('ReplayMemory', () => {
  it('remembers the last stamp of each agent', () => {
    const memory = new ReplayMemory(MAX_AGE_MS);
    expect(memory.last('a')).toBeUndefined();
    memory.remember('a', stampAt(1000), 1000);
    memory.remember('b', stampAt(1001), 1001);
    memory.remember('a', stampAt(1002), 1002);
    expect(memory.last('a')).toEqual(stampAt(1002));
    expect(memory.last('b')).toEqual(stampAt(1001));
    expect(memory.size).toBe(2);
  });

  it('forgets an agent once its stamp is more than the maximum age behind, not at exactly it', () => {
    const memory = new ReplayMemory(MAX_AGE_MS);
    memory.remember('a', stampAt(0), 0);
    memory.forgetSilent(MAX_AGE_MS);
    expect(memory.last('a')).toBeDefined();
    memory.forgetSilent(MAX_AGE_MS + 1);
    expect(memory.last('a')).toBeUndefined();
    expect(memory.size).toBe(0);
  });

  it('keeps an agent that spoke again: a refresh moves it to the back', () => {
    const memory = new ReplayMemory(MAX_AGE_MS);
    memory.remember('a', stampAt(0), 0);
    memory.remember('b', stampAt(10), 10);
    memory.remember('a', stampAt(20), 20);
    memory.forgetSilent(MAX_AGE_MS + 15);
    expect(memory.last('b')).toBeUndefined();
    expect(memory.last('a')).toEqual(stampAt(20));
  });

  it('sweeps on each remember', () => {
    const memory = new ReplayMemory(MAX_AGE_MS);
    memory.remember('a', stampAt(0), 0);
    memory.remember('b', stampAt(MAX_AGE_MS + 1), MAX_AGE_MS + 1);
    expect(memory.size).toBe(1);
    expect(memory.last('a')).toBeUndefined();
  });

  it('judges age by the stamp: a late-arriving old stamp goes sooner, a stamp ahead stays longer', () => {
    const memory = new ReplayMemory(MAX_AGE_MS);
    memory.remember('ahead', stampAt(60000), 0);
    memory.remember('late', stampAt(-290000), 1);
    memory.forgetSilent(MAX_AGE_MS + 2);
    // 'ahead' is still at the front and blocks the sweep: bounded, not exact.
    expect(memory.size).toBe(2);
    memory.forgetSilent(MAX_AGE_MS + 60001);
    expect(memory.size).toBe(0);
  });

  it('stays bounded under 100,000 distinct agents with a moving clock', () => {
    const stepMs = 25;
    const memory = new ReplayMemory(MAX_AGE_MS);
    // Every agent remembered was accepted within the last MAX_AGE_MS (stamps are at the clock).
    const bound = MAX_AGE_MS / stepMs + 1;
    let largest = 0;
    for (let i = 0; i < 100000; i++) {
      const nowMs = 1700000000000 + i * stepMs;
      memory.remember(`agent-${i}`, stampAt(nowMs, `agent-${i}`), nowMs);
      largest = Math.max(largest, memory.size);
    }
    expect(largest).toBe(bound);
    expect(memory.size).toBe(bound);
    expect(memory.last('agent-0')).toBeUndefined();
    expect(memory.last('agent-99999')).toBeDefined();
  });

  it('remembers at most maxAgents (100,000 by default): the least recently heard goes, counted', () => {
    expect(DEFAULT_MAX_AGENTS).toBe(100_000);
    const evicted: Array<[string, number]> = [];
    const memory = new ReplayMemory(MAX_AGE_MS, {
      maxAgents: 2,
      onEvict: (agentKey, count) => evicted.push([agentKey, count]),
    });
    memory.remember('a', stampAt(1), 1);
    memory.remember('b', stampAt(2), 2);
    memory.remember('a', stampAt(3), 3); // heard again: 'b' is now the least recent
    memory.remember('c', stampAt(4), 4);
    expect(memory.last('b')).toBeUndefined();
    expect([memory.size, memory.evicted]).toEqual([2, 1]);
    expect(evicted).toEqual([['b', 1]]);
  });

  it('forgets silent agents on a timer while any is remembered, and runs no timer otherwise', () => {
    jest.useFakeTimers();
    try {
      let now = 0;
      const memory = new ReplayMemory(1000, { sweepNow: () => now });
      expect(jest.getTimerCount()).toBe(0);
      memory.remember('a', stampAt(0), 0);
      expect(jest.getTimerCount()).toBe(1);
      now = 1001;
      jest.advanceTimersByTime(sweepIntervalMs(1000));
      expect(memory.size).toBe(0);
      expect(jest.getTimerCount()).toBe(0);
      memory.remember('b', stampAt(now), now);
      memory.close();
      expect([memory.size, jest.getTimerCount()]).toEqual([0, 0]);
      memory.remember('c', stampAt(now), now); // after close: no timer is armed again
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('survives a clock that throws in the timed sweep', () => {
    jest.useFakeTimers();
    try {
      const memory = new ReplayMemory(1000, {
        sweepNow: () => {
          throw new Error('clock');
        },
      });
      memory.remember('a', stampAt(0), 0);
      expect(() => jest.advanceTimersByTime(5000)).not.toThrow();
      expect(memory.size).toBe(1);
      memory.close();
    } finally {
      jest.useRealTimers();
    }
  });

  it('does not keep the process alive with its sweep timer', () => {
    const memory = new ReplayMemory(3_600_000, { sweepNow: Date.now });
    const realSetTimeout = global.setTimeout;
    const timers: NodeJS.Timeout[] = [];
    const spy = jest
      .spyOn(global, 'setTimeout')
      .mockImplementation((...args: Parameters<typeof setTimeout>) => {
        const timer = realSetTimeout(...args);
        timers.push(timer);
        return timer;
      });
    try {
      memory.remember('a', stampAt(Date.now()), Date.now());
    } finally {
      spy.mockRestore();
      memory.close();
    }
    expect(timers).toHaveLength(1);
    expect(timers[0].hasRef()).toBe(false);
  });

  it('sweeps every half claim age, from 100 ms to a minute', () => {
    expect(sweepIntervalMs(0)).toBe(100);
    expect(sweepIntervalMs(3000)).toBe(1500);
    expect(sweepIntervalMs(300_000)).toBe(60_000);
  });
});
