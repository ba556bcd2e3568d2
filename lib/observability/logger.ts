import { isPromiseLike } from '../promise-like';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/**
 * A pino-compatible logger: each method takes an object of fields, a message, or both
 * (`log.warn({ reason }, 'frame rejected')`). `console` fits too.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * const client = createClient({ clusterId: 'chorus-dev', agentId: 'my-service', logger: pino() });
 * ```
 */
export interface Logger {
  /**
   * Logs a detail useful when debugging (e.g. each rejected frame).
   *
   * @example
   * ```ts
   * logger.debug({ reason: 'not-json' }, 'backbeat: frame rejected');
   * ```
   */
  debug(objOrMsg: unknown, ...args: unknown[]): void;
  /**
   * Logs a state change (e.g. connected, degraded).
   *
   * @example
   * ```ts
   * logger.info({ servers: ['nats://localhost:4222'] }, 'backbeat: connected');
   * ```
   */
  info(objOrMsg: unknown, ...args: unknown[]): void;
  /**
   * Logs something the SDK recovered from (e.g. a throwing beat callback).
   *
   * @example
   * ```ts
   * logger.warn({ err, beat: 42 }, 'backbeat: beat callback threw');
   * ```
   */
  warn(objOrMsg: unknown, ...args: unknown[]): void;
  /**
   * Logs a failure the SDK could not recover from on its own.
   *
   * @example
   * ```ts
   * logger.error({ err }, 'backbeat: NATS permissions violation');
   * ```
   */
  error(objOrMsg: unknown, ...args: unknown[]): void;
  /**
   * A logger that adds `bindings` to every line; when absent the SDK uses this logger as is.
   *
   * @example
   * ```ts
   * const log = logger.child?.({ agent: 'my-service' }) ?? logger;
   * ```
   */
  child?(bindings: Record<string, unknown>): Logger;
}

const noop = (): void => {};

/** A logger that writes nothing: the default. */
export const silentLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};

/** Whether `value` has the methods of a {@link Logger} (a `child`, if any, a method too). */
export function isLogger(value: unknown): value is Logger {
  if (typeof value !== 'object' || value === null) return false;
  const methods = value as Record<string, unknown>;
  return (
    LEVELS.every((level) => typeof methods[level] === 'function') &&
    (methods.child === undefined || typeof methods.child === 'function')
  );
}

/**
 * A logger that says each kind of trouble at most once per `intervalMs`, then how many of it it
 * held back: bad input can arrive ten times a second, and a log must stay readable.
 */
export class RateLimitedLog {
  private readonly lastSaid = new Map<string, { at: number; held: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
    // Monotonic: with the wall clock, a step back would silence each kind for the step's length.
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Warn about `key` unless it was said within the interval; `details` go in the log object. */
  warn(key: string, msg: string, details: Record<string, unknown> = {}): void {
    const now = this.now();
    const last = this.lastSaid.get(key);
    if (last && now - last.at < this.intervalMs) {
      last.held++;
      return;
    }
    const held = last?.held ?? 0;
    this.lastSaid.set(key, { at: now, held: 0 });
    this.logger.warn(held > 0 ? { ...details, key, suppressed: held } : { ...details, key }, msg);
  }
}

/**
 * The user's logger, wrapped once so that it cannot throw into the SDK: the SDK logs from
 * nats.js's callbacks and from its own timers, where an exception would stop the reading of the
 * socket or end the process. A method that throws (or returns a promise that rejects) is
 * reported to `onFailure`, which counts it, and is otherwise ignored; `child` gives a child
 * wrapped the same way, or this logger when the user's has no `child` or it fails.
 *
 * @example
 * const log = guardLogger(config.logger, () => errors++);
 * log.warn({ reason }, 'backbeat: beat frame rejected'); // never throws
 * @param logger The user's logger (pino-compatible).
 * @param onFailure Told each error the logger raised; itself guarded.
 * @return A logger whose methods never throw.
 */
export function guardLogger(logger: Logger, onFailure: (error: unknown) => void): Logger {
  const report = (error: unknown): void => {
    try {
      onFailure(error);
    } catch {
      // Counting failed too: nothing is left to tell.
    }
  };
  const at =
    (level: (typeof LEVELS)[number]) =>
    (objOrMsg: unknown, ...args: unknown[]): void => {
      try {
        // Called as a method (pino needs its `this`), inside the guard: a getter may throw.
        const result: unknown = logger[level](objOrMsg, ...args);
        if (isPromiseLike(result)) result.then(undefined, report);
      } catch (error) {
        report(error);
      }
    };
  const guarded: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (bindings) => {
      try {
        const child: unknown = logger.child?.(bindings);
        if (isLogger(child)) return guardLogger(child, onFailure);
      } catch (error) {
        report(error);
      }
      return guarded;
    },
  };
  return guarded;
}

/**
 * What an error says, for a log line, without trusting it: a message getter or a `toString`
 * that throws gives a placeholder.
 *
 * @example
 * log.error({ err: describeError(err) }, 'backbeat: beat callback threw');
 */
export function describeError(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : String(error);
  } catch {
    return '(an error that cannot be described)';
  }
}
