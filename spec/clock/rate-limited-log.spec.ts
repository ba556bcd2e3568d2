/**
 * The rate-limited log measures its interval on the monotonic clock: a wall-clock step back
 * must not silence a kind of warning for the length of the step.
 */
import type { Logger } from '../../lib/observability/logger';
import { RateLimitedLog } from '../../lib/observability/logger';

function recorder(): Logger & { warnings: unknown[] } {
  const warnings: unknown[] = [];
  const ignore = () => undefined;
  return {
    warnings,
    debug: ignore,
    info: ignore,
    error: ignore,
    warn: (obj) => warnings.push(obj),
  };
}

describe('RateLimitedLog on the default clock', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_800_000_000_000 }));
  afterEach(() => jest.useRealTimers());

  it.each([
    ['back', -3_600_000],
    ['ahead', 3_600_000],
  ])(
    'keeps saying each kind once per interval after the wall clock steps an hour %s',
    (_, stepMs) => {
      const logger = recorder();
      const log = new RateLimitedLog(logger, 10_000);
      log.warn('schema', 'bad frame');
      jest.setSystemTime(Date.now() + stepMs); // the wall clock only: performance.now() stays
      log.warn('schema', 'bad frame'); // within the interval: held back, whatever the wall says
      jest.advanceTimersByTime(9_999);
      log.warn('schema', 'bad frame');
      jest.advanceTimersByTime(1);
      log.warn('schema', 'bad frame');
      jest.advanceTimersByTime(10_000);
      log.warn('schema', 'bad frame');
      expect(logger.warnings).toEqual([
        { key: 'schema' },
        { key: 'schema', suppressed: 2 },
        { key: 'schema' },
      ]);
    },
  );
});
