/**
 * The client's configuration, in the manner of nats.js `defaultOptions()` / `parseOptions()`:
 * {@link defaultConfig} gives every default, {@link resolveConfig} merges a partial
 * configuration over them, validates every field and parses the keys. One zod schema holds each
 * field's check, default and doc comment; the types are inferred from it and a
 * {@link ConfigError} is made from its first issue (an unknown field first).
 */
import type { ConnectionOptions, NatsConnection } from 'nats';
import { z } from 'zod';
import { isUint8Array } from './crypto/bytes';
import { parseSigningKeyField } from './crypto/key-text';
import { parsePublicKey } from './crypto/keys';
import { ConfigError } from './errors';
import { isLogger, silentLogger, type Logger } from './observability/logger';
import { TOKEN_PATTERN } from './protocol/subjects';

// The type of the `logger` field; it lives beside the guard that wraps it.

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

/** The longest delay a Node timer keeps; a longer one fires at once (a busy loop). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const URLS = 'must be a non-empty URL or a non-empty list of them';
const TOKEN = 'must be a NATS token: 1 to 128 of A-Z a-z 0-9 _ -';
const TIMER = `must be a number of ms from more than 0 to ${MAX_TIMER_MS}`;
const integerIn = (min: number, max: number): string =>
  `must be an integer from ${min} to ${max === Number.MAX_SAFE_INTEGER ? '2^53-1' : max}`;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isFunction = (value: unknown): boolean => typeof value === 'function';

/** A number with one message for every way it can be wrong: type, NaN, ±Infinity, range. */
const number = (message: string) => z.number({ error: message });

/** A cluster or agent id: no default, so a field left out is missing rather than invalid. */
const token = () =>
  z
    .string({
      error: (issue) =>
        issue.input === undefined ? 'is missing: it is required (clusterId and agentId)' : TOKEN,
    })
    .regex(TOKEN_PATTERN, TOKEN);

/** A delay the SDK waits with a timer: more than 0 (0 would spin), at most a timer's limit. */
const timerMs = number(TIMER).gt(0).max(MAX_TIMER_MS);

const integer = (min: number, max: number) => number(integerIn(min, max)).int().min(min).max(max);

/** Bytes or their base64; which bytes is checked when the keys are parsed. */
const keyText = (message: string) =>
  z.custom<Uint8Array | string>((key) => isUint8Array(key) || typeof key === 'string', message);

const isConnection = (value: unknown): value is NatsConnection =>
  isObject(value) && isFunction(value.subscribe) && isFunction(value.publish);

/**
 * Every field: its check, its default, its doc comment (what typedoc shows on {@link Config}).
 * Unknown fields are refused, so that a misspelt one is not ignored.
 */
const ConfigSchema = z.strictObject(
  {
    /** The cluster, a NATS token. Required (the default `''` is refused). */
    clusterId: token(),
    /** This agent, one running process, a NATS token. Required (the default `''` is refused). */
    agentId: token(),
    /** A NATS server URL or a list of them. Default `'nats://localhost:4222'`. */
    natsUrl: z
      .union([z.string(), z.array(z.string())], { error: URLS })
      .refine((urls) => urls.length > 0 && [urls].flat().every((url) => url !== ''), URLS)
      .default('nats://localhost:4222'),
    /** An open connection to share instead of dialling; the client never closes it. Default none. */
    connection: z.custom<NatsConnection>(isConnection, 'must be an open NatsConnection').optional(),
    /**
     * A 64-byte Ed25519 secret key (seed then public key) or a 32-byte seed, as bytes or base64,
     * or the JSON text `backbeat keygen --out FILE` writes (from a file: `loadSigningKey(path)`);
     * claims are signed when set. Default none.
     */
    signingKey: keyText(
      'must be a 64-byte Ed25519 secret key or a 32-byte seed, as bytes or base64',
    ).optional(),
    /**
     * Public keys (32 bytes or their base64); when set, only frames signed by one of them are
     * beats. Default none (frames need no signature).
     */
    trustedPulseKeys: z
      .array(keyText('must be a 32-byte Ed25519 public key, as bytes or base64'), {
        error: 'must be a non-empty list of public keys (leave it out to accept unsigned frames)',
      })
      .min(1)
      .readonly()
      .optional(),
    /** Lateness still counted as on time. Default `100`. */
    jitterToleranceMs: number(`must be a number of ms from 0 to ${MAX_TIMER_MS}`)
      .min(0)
      .max(MAX_TIMER_MS)
      .default(100),
    /** One dial's limit; `start()` resolves degraded after it. Default `2000`. */
    connectTimeoutMs: timerMs.default(2000),
    /** Base of the reconnect backoff, `min(base·2^k, max)` ±20 %; more than 0. Default `2000`. */
    reconnectDelayMs: timerMs.default(2000),
    /** Cap of the reconnect backoff, at least `reconnectDelayMs`. Default `30000`. */
    maxReconnectDelayMs: timerMs.default(30000),
    /** Dial attempts per server before giving up, the first included (1 or more); `-1` forever. Default `-1`. */
    maxReconnects: number(
      'must be -1 (forever) or an integer from 1 to 2^53-1 (dials, the first one included)',
    )
      .int()
      .refine((dials) => dials === -1 || dials >= 1)
      .default(-1),
    /**
     * How often the client pings the server to check that the link is alive. A link that answers
     * none of `maxPingsOut` pings is declared dead and the client fails over: a silent link is
     * found within `(maxPingsOut + 1) × pingIntervalMs` (9 s by default). Default `3000`.
     */
    pingIntervalMs: timerMs.default(3000),
    /** Pings left unanswered before the link is declared dead (see `pingIntervalMs`). Default `2`. */
    maxPingsOut: integer(1, 1000).default(2),
    /** Beats per bar of synthetic frames before any pulse frame, 1 to 64. Default `4`. */
    beatsPerBar: integer(1, 64).default(4),
    /** Synthetic tempo when no pulse tempo was ever seen, 1 to 6000 BPM. Default `60`. */
    fallbackTempoBpm: number('must be a number from 1 to 6000').min(1).max(6000).default(60),
    /** HLC stamps further ahead of the wall clock than this are not merged. Default `60000`. */
    maxClockSkewMs: number('must be a finite number of ms, 0 or more').min(0).default(60000),
    /** Accept legacy `{ bar, beat }` frames (docs/protocol.md section 4). Default `false`. */
    acceptLegacyFrames: z.boolean({ error: 'must be a boolean' }).default(false),
    /**
     * Claims held while disconnected (core) or not yet acknowledged (JetStream); beyond it the
     * oldest are dropped and counted. Default `1024`.
     */
    statusBufferSize: integer(1, Number.MAX_SAFE_INTEGER).default(1024),
    /** `'core'`: at most once; `'jetstream'`: at least once, stored once. Default `'core'`. */
    statusDelivery: z
      .enum(['core', 'jetstream'] satisfies StatusDelivery[], {
        error: "must be 'core' or 'jetstream'",
      })
      .default('core'),
    /** Any pino-compatible logger. Default silent. */
    logger: z
      .custom<Logger>(
        isLogger,
        'must have debug, info, warn and error methods (and child, if any, a method)',
      )
      .default(silentLogger),
    /** Passed to nats.js `connect` (auth, TLS, name, inboxPrefix …). Default `{}`. */
    natsOptions: z
      .custom<NatsOptions>(isObject, 'must be an object')
      .check((ctx) => {
        for (const owned of SDK_OWNED_NATS_OPTIONS) {
          if (Object.hasOwn(ctx.value, owned)) {
            ctx.issues.push({
              code: 'custom',
              path: [owned],
              message: 'is set by the SDK from its own fields',
              input: ctx.value,
            });
          }
        }
      })
      .default(() => ({})),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? undefined : 'must be an object') },
);

/**
 * The client's configuration, every field with its default filled in. Durations are
 * milliseconds.
 *
 * @example
 * ```ts
 * const config: Partial<Config> = { clusterId: 'chorus-dev', agentId: 'my-service', jitterToleranceMs: 50 };
 * const client = createClient(config);
 * ```
 */
// An interface, not an alias, so that typedoc lists the fields with their doc comments.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Config extends z.output<typeof ConfigSchema> {}

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
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ClientConfig extends z.input<typeof ConfigSchema> {}

/** `maxReconnectDelayMs` joins `reconnectDelayMs`; the keys are parsed once all else holds. */
const ResolvedConfigSchema = ConfigSchema.check((ctx) => {
  const { reconnectDelayMs, maxReconnectDelayMs } = ctx.value;
  if (maxReconnectDelayMs < reconnectDelayMs) {
    ctx.issues.push({
      code: 'custom',
      path: ['maxReconnectDelayMs'],
      message: `must be at least reconnectDelayMs (${reconnectDelayMs}) and at most ${MAX_TIMER_MS} ms`,
      input: maxReconnectDelayMs,
    });
  }
}).transform(({ natsUrl, signingKey, trustedPulseKeys, ...rest }, ctx) => {
  try {
    return Object.freeze({
      ...rest,
      /** The server URLs, at least one. */
      natsUrl: Object.freeze(typeof natsUrl === 'string' ? [natsUrl] : [...natsUrl]),
      ...(signingKey !== undefined && {
        /** The parsed signing key, when one is set. */
        signingKey: parseSigningKeyField(signingKey),
      }),
      ...(trustedPulseKeys !== undefined && {
        /** The trusted pulse keys as 32-byte arrays, when set (never empty). */
        trustedPulseKeys: Object.freeze(
          trustedPulseKeys.map((key, i) => parsePublicKey(key, `trustedPulseKeys.${i}`)),
        ),
      }),
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    ctx.issues.push({
      code: 'custom',
      path: error.field.split('.'),
      message: error.message.slice(error.field.length + 2),
      input: ctx.value,
    });
    return z.NEVER;
  }
});

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
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ResolvedConfig extends z.output<typeof ResolvedConfigSchema> {}

/** Everything but the ids, which have no default. */
const DefaultsSchema = ConfigSchema.omit({ clusterId: true, agentId: true });

/**
 * Every default of the configuration; `clusterId` and `agentId` are empty and must be given.
 *
 * @example
 * const config = { ...defaultConfig(), clusterId: 'chorus-dev', agentId: 'my-service' };
 * @return A new, full configuration.
 */
export function defaultConfig(): Config {
  return { clusterId: '', agentId: '', ...DefaultsSchema.parse({}) };
}

/**
 * The ConfigError of a zod issue. An unknown field comes first: it is most likely a misspelt
 * one, which would otherwise be reported as missing.
 */
function configErrorOf(issues: readonly z.core.$ZodIssue[]): ConfigError {
  const issue = issues.find(({ code }) => code === 'unrecognized_keys') ?? issues[0];
  if (issue.code === 'unrecognized_keys') {
    return new ConfigError(String(issue.keys[0]), 'is not a configuration field');
  }
  const field = issue.path.length === 0 ? 'config' : issue.path.map(String).join('.');
  return new ConfigError(field, issue.message);
}

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
  const parsed = ResolvedConfigSchema.safeParse(partial);
  if (!parsed.success) throw configErrorOf(parsed.error.issues);
  return parsed.data;
}
