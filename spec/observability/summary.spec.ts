import { RecentSummary } from '../../lib/observability/summary';
import { RateLimitedLog } from '../../lib/observability/logger';
import type { Logger } from '../../lib/observability/logger';

describe('RecentSummary', () => {
  it('is all zeros with no sample', () => {
    expect(new RecentSummary().snapshot()).toEqual({ count: 0, mean: 0, p50: 0, p99: 0, max: 0 });
  });

  it('summarises the samples it holds', () => {
    const summary = new RecentSummary(100);
    for (let i = 1; i <= 100; i++) summary.record(i);
    expect(summary.snapshot()).toEqual({ count: 100, mean: 50.5, p50: 51, p99: 100, max: 100 });
  });

  it('keeps only the most recent samples but counts all', () => {
    const summary = new RecentSummary(4);
    for (const value of [1000, 1, 2, 3, 4]) summary.record(value);
    const snapshot = summary.snapshot();
    expect(snapshot.count).toBe(5);
    expect(snapshot.max).toBe(4);
    expect(snapshot.mean).toBe(2.5);
  });
});

describe('RateLimitedLog', () => {
  function recorder(): Logger & { lines: Array<[string, unknown, string | undefined]> } {
    const lines: Array<[string, unknown, string | undefined]> = [];
    const at = (level: string) => (obj: unknown, msg?: string) =>
      void lines.push([level, obj, msg]);
    return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  }

  it('says each key once per interval, then how many it held back', () => {
    let now = 0;
    const logger = recorder();
    const log = new RateLimitedLog(logger, 1000, () => now);
    log.warn('schema', 'bad frame');
    log.warn('schema', 'bad frame');
    log.warn('not-json', 'bad frame');
    now = 999;
    log.warn('schema', 'bad frame');
    now = 1000;
    log.warn('schema', 'bad frame', { reason: 'schema' });
    expect(logger.lines).toEqual([
      ['warn', { key: 'schema' }, 'bad frame'],
      ['warn', { key: 'not-json' }, 'bad frame'],
      ['warn', { reason: 'schema', key: 'schema', suppressed: 2 }, 'bad frame'],
    ]);
  });
});
