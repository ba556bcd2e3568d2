/**
 * The client's configuration, in the manner of nats.js `defaultOptions()` / `parseOptions()`:
 * {@link defaultConfig} gives every default, {@link resolveConfig} merges a partial
 * configuration over them, validates every field and parses the keys.
 */
import type { ConnectionOptions, NatsConnection } from 'nats';
import { parseSigningKeyField } from './crypto/key-text';
import { parsePublicKey, type SigningKey } from './crypto/keys';
import { ConfigError } from './errors';
import { isToken } from './protocol/subjects';

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
   * @param objOrMsg An object of fields, or the message.
   * @param args The message after an object, or format arguments.
   */
  debug(objOrMsg: unknown, ...args: unknown[]): void;
  /**
   * Logs a state change (e.g. connected, degraded).
   *
   * @example
   * ```ts
   * logger.info({ servers: ['nats://localhost:4222'] }, 'backbeat: connected');
   * ```
   * @param objOrMsg An object of fields, or the message.
   * @param args The message after an object, or format arguments.
   */
  info(objOrMsg: unknown, ...args: unknown[]): void;
  /**
   * Logs something the SDK recovered from (e.g. a throwing beat callback).
   *
   * @example
   * ```ts
   * logger.warn({ err, beat: 42 }, 'backbeat: beat callback threw');
   * ```
   * @param objOrMsg An object of fields, or the message.
   * @param args The message after an object, or format arguments.
   */
  warn(objOrMsg: unknown, ...args: unknown[]): void;
  /**
   * Logs a failure the SDK could not recover from on its own.
   *
   * @example
   * ```ts
   * logger.error({ err }, 'backbeat: NATS permissions violation');
   * ```
   * @param objOrMsg An object of fields, or the message.
   * @param args The message after an object, or format arguments.
   */
  error(objOrMsg: unknown, ...args: unknown[]): void;
  /**
   * A logger that adds `bindings` to every line; when absent the SDK uses this logger as is.
   *
   * @example
   * ```ts
   * const log = logger.child?.({ agent: 'my-service' }) ?? logger;
   * ```
   * @param bindings Fields to add to every line.
   * @return The child logger.
   */
  child?(bindings: Record<string, unknown>): Logger;
}

/** `natsOptions` keys the SDK sets itself from its own fields; passing one is a ConfigError. */
export const SDK_OWNED_NATS_OPTIONS = [
  'servers',
  'port',
  'reconnect',
  'maxReconnectAttempts',
  'reconnectTimeWait',
  'reconnectDelayHandler',
  'waitOnFirstConnect',
  'timeout',
  'pingInterval',
  'maxPingOut',
  'ignoreAuthErrorAbort',
] as const;

/**
 * Options passed through to nats.js `connect`: everything but what the SDK owns (`servers`,
 * `port`, `reconnect`, `maxReconnectAttempts`, `reconnectTimeWait`, `reconnectDelayHandler`,
 * `waitOnFirstConnect`, `timeout`, `pingInterval`, `maxPingOut`, `ignoreAuthErrorAbort`).
 *
 * @example
 * ```ts
 * const natsOptions: NatsOptions = { name: 'my-service', user: 'svc', pass: process.env.NATS_PASS };
 * createClient({ clusterId: 'chorus-dev', agentId: 'my-service', natsOptions });
 * ```
 */
export type NatsOptions = Omit<ConnectionOptions, (typeof SDK_OWNED_NATS_OPTIONS)[number]>;

/**
 * How status claims travel: `'core'` at most once, `'jetstream'` at least once and stored once.
 *
 * @example
 * ```ts
 * createClient({ clusterId: 'chorus-dev', agentId: 'my-service', statusDelivery: 'jetstream' });
 * ```
 */
export type StatusDelivery = 'core' | 'jetstream';

/**
 * The client's configuration (API.md, Config). Durations are milliseconds.
 *
 * @example
 * ```ts
 * const config: Partial<Config> = { clusterId: 'chorus-dev', agentId: 'my-service', jitterToleranceMs: 50 };
 * const client = createClient(config);
 * ```
 */
export interface Config {
  /** The cluster, a NATS token. Required (the default `''` is refused). */
  clusterId: string;
  /** This agent, one running process, a NATS token. Required (the default `''` is refused). */
  agentId: string;
  /** A NATS server URL or a list of them. Default `'nats://localhost:4222'`. */
  natsUrl: string | string[];
  /** An open connection to share instead of dialling; the client never closes it. Default none. */
  connection?: NatsConnection;
  /**
   * A 64-byte Ed25519 secret key (seed then public key) or a 32-byte seed, as bytes or base64,
   * or the JSON text `backbeat keygen --out FILE` writes (from a file: `loadSigningKey(path)`);
   * claims are signed when set. Default none.
   */
  signingKey?: Uint8Array | string;
  /**
   * Public keys (32 bytes or their base64); when set, only frames signed by one of them are
   * beats. Default none (frames need no signature).
   */
  trustedPulseKeys?: ReadonlyArray<Uint8Array | string>;
  /** Lateness still counted as on time. Default `100`. */
  jitterToleranceMs: number;
  /** One dial's limit; `start()` resolves degraded after it. Default `2000`. */
  connectTimeoutMs: number;
  /** Base of the reconnect backoff, `min(base·2^k, max)` ±20 %; more than 0. Default `2000`. */
  reconnectDelayMs: number;
  /** Cap of the reconnect backoff, at least `reconnectDelayMs`. Default `30000`. */
  maxReconnectDelayMs: number;
  /** Dial attempts per server before giving up, the first included (1 or more); `-1` forever. Default `-1`. */
  maxReconnects: number;
  /**
   * How often the client pings the server to check that the link is alive. A link that answers
   * none of `maxPingsOut` pings is declared dead and the client fails over: a silent link is
   * found within `(maxPingsOut + 1) × pingIntervalMs` (9 s by default). Default `3000`.
   */
  pingIntervalMs: number;
  /** Pings left unanswered before the link is declared dead (see `pingIntervalMs`). Default `2`. */
  maxPingsOut: number;
  /** Beats per bar of synthetic frames before any pulse frame, 1 to 64. Default `4`. */
  beatsPerBar: number;
  /** Synthetic tempo when no pulse tempo was ever seen, 1 to 6000 BPM. Default `60`. */
  fallbackTempoBpm: number;
  /** HLC stamps further ahead of the wall clock than this are not merged. Default `60000`. */
  maxClockSkewMs: number;
  /** Accept legacy `{ bar, beat }` frames (PROTOCOL.md section 4). Default `false`. */
  acceptLegacyFrames: boolean;
  /**
   * Claims held while disconnected (core) or not yet acknowledged (JetStream); beyond it the
   * oldest are dropped and counted. Default `1024`.
   */
  statusBufferSize: number;
  /** `'core'`: at most once; `'jetstream'`: at least once, stored once. Default `'core'`. */
  statusDelivery: StatusDelivery;
  /** Any pino-compatible logger. Default silent. */
  logger: Logger;
  /** Passed to nats.js `connect` (auth, TLS, name, inboxPrefix …). Default `{}`. */
  natsOptions: NatsOptions;
}

/** The fields `createClient` cannot do without. */
const REQUIRED_FIELDS = ['clusterId', 'agentId'] as const;

/**
 * What `createClient` takes: `clusterId` and `agentId`, and any other {@link Config} field over
 * its default.
 *
 * @example
 * ```ts
 * const config: ClientConfig = { clusterId: 'chorus-dev', agentId: 'my-service' };
 * const client = createClient(config);
 * ```
 */
export type ClientConfig = Partial<Config> & Pick<Config, 'clusterId' | 'agentId'>;

/**
 * A configuration as a client holds it once `createClient` has validated it: keys parsed, URLs
 * as a list.
 *
 * @example
 * ```ts
 * // What `createClient({ clusterId: 'chorus-dev', agentId: 'a1', natsUrl: 'nats://n1:4222' })` holds:
 * const resolved: Pick<ResolvedConfig, 'natsUrl' | 'statusDelivery'> = {
 *   natsUrl: ['nats://n1:4222'],
 *   statusDelivery: 'core',
 * };
 * ```
 */
export interface ResolvedConfig extends Readonly<
  Omit<Config, 'natsUrl' | 'signingKey' | 'trustedPulseKeys'>
> {
  /** The server URLs, at least one. */
  readonly natsUrl: readonly string[];
  /** The parsed signing key, when one is set. */
  readonly signingKey?: SigningKey;
  /** The trusted pulse keys as 32-byte arrays, when set (never empty). */
  readonly trustedPulseKeys?: readonly Uint8Array[];
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

/**
 * Every default of the configuration (API.md, Config); `clusterId` and `agentId` are empty and
 * must be given.
 *
 * @example
 * const config = { ...defaultConfig(), clusterId: 'chorus-dev', agentId: 'my-service' };
 * @return A new, full configuration.
 */
export function defaultConfig(): Config {
  return {
    clusterId: '',
    agentId: '',
    natsUrl: 'nats://localhost:4222',
    jitterToleranceMs: 100,
    connectTimeoutMs: 2000,
    reconnectDelayMs: 2000,
    maxReconnectDelayMs: 30000,
    maxReconnects: -1,
    pingIntervalMs: 3000,
    maxPingsOut: 2,
    beatsPerBar: 4,
    fallbackTempoBpm: 60,
    maxClockSkewMs: 60000,
    acceptLegacyFrames: false,
    statusBufferSize: 1024,
    statusDelivery: 'core',
    logger: silentLogger,
    natsOptions: {},
  };
}

type Check = (value: unknown) => string | undefined;

const isNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

const duration: Check = (value) =>
  isNumber(value) && value >= 0 ? undefined : 'must be a finite number of ms, 0 or more';

/** The longest delay a Node timer keeps; a longer one fires at once (a busy loop). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A delay the SDK waits with a timer: more than 0 (0 would spin), at most a timer's limit. */
const timerDuration: Check = (value) =>
  isNumber(value) && value > 0 && value <= MAX_TIMER_MS
    ? undefined
    : `must be a number of ms from more than 0 to ${MAX_TIMER_MS}`;

/** Checks that join two fields; each names the field it refuses. */
const crossChecks: ReadonlyArray<(config: Config) => ConfigError | undefined> = [
  ({ reconnectDelayMs, maxReconnectDelayMs }) =>
    maxReconnectDelayMs >= reconnectDelayMs
      ? undefined
      : new ConfigError(
          'maxReconnectDelayMs',
          `must be at least reconnectDelayMs (${reconnectDelayMs}) and at most ${MAX_TIMER_MS} ms`,
        ),
];

const token: Check = (value) =>
  isToken(value) ? undefined : 'must be a NATS token: 1 to 128 of A-Z a-z 0-9 _ -';

const integerIn =
  (min: number, max: number): Check =>
  (value) =>
    Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max
      ? undefined
      : `must be an integer from ${min} to ${max === Number.MAX_SAFE_INTEGER ? '2^53-1' : max}`;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isFunction = (value: unknown): boolean => typeof value === 'function';

/** The check of each field, by name; the keys parsed apart. Only these fields exist. */
const checks: Record<keyof Config, Check> = {
  clusterId: token,
  agentId: token,
  natsUrl: (value) => {
    const urls = typeof value === 'string' ? [value] : value;
    return Array.isArray(urls) &&
      urls.length > 0 &&
      urls.every((url) => typeof url === 'string' && url !== '')
      ? undefined
      : 'must be a non-empty URL or a non-empty list of them';
  },
  connection: (value) =>
    isObject(value) && isFunction(value.subscribe) && isFunction(value.publish)
      ? undefined
      : 'must be an open NatsConnection',
  signingKey: () => undefined,
  trustedPulseKeys: (value) =>
    Array.isArray(value) && value.length > 0
      ? undefined
      : 'must be a non-empty list of public keys (leave it out to accept unsigned frames)',
  jitterToleranceMs: (value) =>
    isNumber(value) && value >= 0 && value <= MAX_TIMER_MS
      ? undefined
      : `must be a number of ms from 0 to ${MAX_TIMER_MS}`,
  connectTimeoutMs: timerDuration,
  reconnectDelayMs: timerDuration,
  maxReconnectDelayMs: timerDuration,
  maxReconnects: (value) =>
    value === -1 || (Number.isSafeInteger(value) && (value as number) >= 1)
      ? undefined
      : 'must be -1 (forever) or an integer from 1 to 2^53-1 (dials, the first one included)',
  pingIntervalMs: timerDuration,
  maxPingsOut: integerIn(1, 1000),
  beatsPerBar: integerIn(1, 64),
  fallbackTempoBpm: (value) =>
    isNumber(value) && value >= 1 && value <= 6000 ? undefined : 'must be a number from 1 to 6000',
  maxClockSkewMs: duration,
  acceptLegacyFrames: (value) => (typeof value === 'boolean' ? undefined : 'must be a boolean'),
  statusBufferSize: integerIn(1, Number.MAX_SAFE_INTEGER),
  statusDelivery: (value) =>
    value === 'core' || value === 'jetstream' ? undefined : "must be 'core' or 'jetstream'",
  logger: (value) =>
    isObject(value) &&
    ['debug', 'info', 'warn', 'error'].every((method) => isFunction(value[method])) &&
    (value.child === undefined || isFunction(value.child))
      ? undefined
      : 'must have debug, info, warn and error methods (and child, if any, a method)',
  natsOptions: (value) => (isObject(value) ? undefined : 'must be an object'),
};

/**
 * Merges a partial configuration over {@link defaultConfig} (fields set to `undefined` keep
 * their default) and validates it.
 *
 * @example
 * const config = resolveConfig({ clusterId: 'chorus-dev', agentId: 'my-service' });
 * config.natsUrl; // ['nats://localhost:4222']
 * @param partial The caller's configuration.
 * @return The full configuration, frozen, with parsed keys and the URLs as a list.
 * @throws ConfigError naming the first invalid field (dotted for nested ones, e.g.
 * `natsOptions.servers` or `trustedPulseKeys.1`), or an unknown field.
 */
export function resolveConfig(partial: Partial<Config>): ResolvedConfig {
  if (!isObject(partial)) throw new ConfigError('config', 'must be an object');
  const merged: Record<string, unknown> = { ...defaultConfig() };
  for (const [field, value] of Object.entries(partial)) {
    if (!Object.hasOwn(checks, field)) throw new ConfigError(field, 'is not a configuration field');
    if (value !== undefined) merged[field] = value;
  }
  for (const field of REQUIRED_FIELDS) {
    if (partial[field] === undefined) {
      throw new ConfigError(field, `is missing: it is required (${REQUIRED_FIELDS.join(' and ')})`);
    }
  }
  for (const [field, check] of Object.entries(checks)) {
    if (!Object.hasOwn(merged, field)) continue; // an optional field left out
    const problem = check(merged[field]);
    if (problem !== undefined) throw new ConfigError(field, problem);
  }
  const config = merged as unknown as Config;
  for (const crossCheck of crossChecks) {
    const error = crossCheck(config);
    if (error) throw error;
  }
  for (const owned of SDK_OWNED_NATS_OPTIONS) {
    if (Object.hasOwn(config.natsOptions, owned)) {
      throw new ConfigError(`natsOptions.${owned}`, 'is set by the SDK from its own fields');
    }
  }
  const { natsUrl, signingKey, trustedPulseKeys, ...rest } = config;
  return Object.freeze({
    ...rest,
    natsUrl: Object.freeze(typeof natsUrl === 'string' ? [natsUrl] : [...natsUrl]),
    ...(signingKey !== undefined && { signingKey: parseSigningKeyField(signingKey) }),
    ...(trustedPulseKeys !== undefined && {
      trustedPulseKeys: Object.freeze(
        trustedPulseKeys.map((key, i) => parsePublicKey(key, `trustedPulseKeys.${i}`)),
      ),
    }),
  });
}
