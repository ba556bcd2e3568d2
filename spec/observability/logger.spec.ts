import type { Logger } from '../../lib/observability/logger';
import { describeError, guardLogger } from '../../lib/observability/logger';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** A logger whose every method throws `error`, and counts its calls. */
function throwingLogger(error: unknown): Logger & { calls: number } {
  const logger = {
    calls: 0,
    debug: () => fail(),
    info: () => fail(),
    warn: () => fail(),
    error: () => fail(),
  };
  function fail(): never {
    logger.calls++;
    throw error;
  }
  return logger;
}

describe('guardLogger', () => {
  it.each(LEVELS)('swallows a throwing %s and reports it once', (level) => {
    const failures: unknown[] = [];
    const boom = new Error(`${level} broke`);
    const inner = throwingLogger(boom);
    const log = guardLogger(inner, (error) => failures.push(error));
    expect(() => log[level]({ reason: 'x' }, 'message')).not.toThrow();
    expect(inner.calls).toBe(1);
    expect(failures).toEqual([boom]);
  });

  it('passes each call through with its arguments and its this (as pino needs)', () => {
    const seen: unknown[] = [];
    const inner = {
      prefix: 'p',
      debug(this: { prefix: string }, ...args: unknown[]) {
        seen.push([this.prefix, 'debug', ...args]);
      },
      info(this: { prefix: string }, ...args: unknown[]) {
        seen.push([this.prefix, 'info', ...args]);
      },
      warn(this: { prefix: string }, ...args: unknown[]) {
        seen.push([this.prefix, 'warn', ...args]);
      },
      error(this: { prefix: string }, ...args: unknown[]) {
        seen.push([this.prefix, 'error', ...args]);
      },
    };
    const log = guardLogger(inner, () => {
      throw new Error('no failure expected');
    });
    log.debug({ a: 1 }, 'one');
    log.info('two', 3);
    log.warn({ b: 2 });
    log.error({ c: 3 }, 'four');
    expect(seen).toEqual([
      ['p', 'debug', { a: 1 }, 'one'],
      ['p', 'info', 'two', 3],
      ['p', 'warn', { b: 2 }],
      ['p', 'error', { c: 3 }, 'four'],
    ]);
  });

  it('reports a method that returns a rejected promise, without an unhandled rejection', async () => {
    const failures: unknown[] = [];
    const boom = new Error('async logger broke');
    const inner = { ...throwingLogger(boom), warn: () => Promise.reject(boom) };
    const log = guardLogger(inner, (error) => failures.push(error));
    log.warn('x');
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures).toEqual([boom]);
  });

  it('survives a method getter that throws, and an onFailure that throws', () => {
    const inner = {} as Logger;
    for (const level of LEVELS) {
      Object.defineProperty(inner, level, {
        get() {
          throw new Error('getter');
        },
      });
    }
    const log = guardLogger(inner, () => {
      throw new Error('counting broke too');
    });
    for (const level of LEVELS) expect(() => log[level]('x')).not.toThrow();
  });

  it('wraps the child of a logger the same way, and falls back to itself without one', () => {
    const failures: unknown[] = [];
    const boom = new Error('child method broke');
    const withChild = { ...throwingLogger(boom), child: () => throwingLogger(boom) };
    const log = guardLogger(withChild, (error) => failures.push(error));
    const child = log.child!({ agent: 'a' });
    expect(child).not.toBe(log);
    expect(() => child.info('x')).not.toThrow();
    expect(failures).toEqual([boom]);

    const noChild = guardLogger(throwingLogger(boom), () => undefined);
    expect(noChild.child!({})).toBe(noChild);

    const childThrows = guardLogger(
      {
        ...throwingLogger(boom),
        child: () => {
          throw boom;
        },
      },
      (error) => failures.push(error),
    );
    expect(childThrows.child!({})).toBe(childThrows);
    const childJunk = guardLogger(
      { ...throwingLogger(boom), child: () => 42 as unknown as Logger },
      () => undefined,
    );
    expect(childJunk.child!({})).toBe(childJunk);
    expect(failures).toEqual([boom, boom]);
  });
});

describe('describeError', () => {
  it('gives the message of an error, the text of anything else, and a placeholder for hostile values', () => {
    expect(describeError(new Error('m'))).toBe('m');
    expect(describeError('s')).toBe('s');
    expect(describeError(42)).toBe('42');
    const hostile = {
      toString() {
        throw new Error('no');
      },
    };
    expect(describeError(hostile)).toBe('(an error that cannot be described)');
    const badMessage = new Error('x');
    Object.defineProperty(badMessage, 'message', {
      get() {
        throw new Error('no');
      },
    });
    expect(describeError(badMessage)).toBe('(an error that cannot be described)');
    expect(describeError(Object.create(null))).toBe('(an error that cannot be described)');
  });
});
