/**
 * Options of the dev pulse, their defaults, and their validation into a {@link ConfigError}
 * naming the first bad field.
 */
import type { NatsConnection } from 'nats';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { z } from 'zod';
import { randomHex } from '../crypto/random';
import { ConfigError } from '../errors';
import { RESERVED_PHASES } from '../protocol/beat-frame';
import { beatIndexSchema, codePoints, MAX_BEAT_INDEX, tokenSchema } from '../protocol/text';

/** Tempo when none is given: two beats a second, a brisk but readable dev rhythm. */
export const DEFAULT_PULSE_TEMPO_BPM = 120;

/** Beats in a bar when none is given (the protocol's own default). */
export const DEFAULT_PULSE_BEATS_PER_BAR = 4;

/** Phase labels when none are given: one bar of plan, work, work, review. */
export const DEFAULT_PULSE_PHASES: readonly string[] = Object.freeze([
  'plan',
  'work',
  'work',
  'review',
]);

/** NATS server when neither `natsUrl` nor `connection` is given (as the client's default). */
export const DEFAULT_PULSE_NATS_URL = 'nats://localhost:4222';

/** A tempo in beats per minute: 1 to 6000. */
export const pulseTempoSchema = z
  .number({ message: 'must be a number from 1 to 6000' })
  .min(1, { message: 'must be a number from 1 to 6000' })
  .max(6000, { message: 'must be a number from 1 to 6000' });

/** A phase label a pulse may send: 1 to 32 characters, not one the SDK reserves. */
const pulsePhaseSchema = codePoints(1, 32).refine((phase) => !RESERVED_PHASES.has(phase), {
  message: `is reserved for the SDK (${[...RESERVED_PHASES].join(', ')})`,
});

function isFunction(value: unknown): boolean {
  return typeof value === 'function';
}

function isConnection(value: unknown): value is NatsConnection {
  const candidate = value as Partial<NatsConnection> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    isFunction(candidate.publish) &&
    isFunction(candidate.closed)
  );
}

function isScheduler(value: unknown): value is SchedulerLike {
  const candidate = value as Partial<SchedulerLike> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    isFunction(candidate.now) &&
    isFunction(candidate.schedule)
  );
}

/** The dev pulse's options. Unknown keys are refused, so that a misspelt option is not ignored. */
export const PulseOptionsSchema = z.strictObject({
  /** The cluster, a NATS token: frames go to `backbeat.<clusterId>.beat`. */
  clusterId: tokenSchema,
  /** This pulse instance, a NATS token. Default `pulse-` + 16 random lowercase hex digits. */
  pulseId: tokenSchema.optional(),
  /** NATS server URL(s) to dial when no `connection` is given. Default `nats://localhost:4222`. */
  natsUrl: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** An open connection to share instead of dialling; the pulse never closes it. */
  connection: z
    .custom<NatsConnection>(isConnection, { message: 'must be an open nats.js NatsConnection' })
    .optional(),
  /** Beats per minute, 1 to 6000. Default 120. */
  tempoBpm: pulseTempoSchema.default(DEFAULT_PULSE_TEMPO_BPM),
  /** Beats in a bar (a window), an integer from 1 to 64. Default 4. */
  beatsPerBar: z
    .number({ message: 'must be an integer from 1 to 64' })
    .int({ message: 'must be an integer from 1 to 64' })
    .min(1, { message: 'must be an integer from 1 to 64' })
    .max(64, { message: 'must be an integer from 1 to 64' })
    .default(DEFAULT_PULSE_BEATS_PER_BAR),
  /** Phase labels, cycled within each bar. Default `['plan', 'work', 'work', 'review']`. */
  phases: z
    .array(pulsePhaseSchema)
    .min(1, { message: 'must list at least one phase' })
    .default([...DEFAULT_PULSE_PHASES]),
  /** A 64-byte Ed25519 secret key or 32-byte seed (bytes or base64): frames are signed when set. */
  signingKey: z
    .union([z.custom<Uint8Array>((value) => value instanceof Uint8Array), z.string()], {
      message: 'must be a 64-byte Ed25519 secret key or a 32-byte seed, as bytes or base64',
    })
    .optional(),
  /** The index of the first beat (not with `epochMs`). Default 0. */
  startIndex: beatIndexSchema.optional(),
  /**
   * The timeline's epoch, wall clock in ms since the Unix epoch, not later than now: while the
   * tempo holds, beat `i` is due at `epochMs + i × period`, and the pulse starts at the index
   * due now. A pulse restarted (or a standby started) with the same epoch, tempo and pulse id
   * continues the same timeline. Default: now (the first beat is `startIndex`).
   */
  epochMs: z
    .number({ message: 'must be a finite number of ms since the Unix epoch' })
    .refine(Number.isFinite, { message: 'must be a finite number of ms since the Unix epoch' })
    .optional(),
  /**
   * The RxJS scheduler of the beat timers (virtual time in tests). The schedule's clock is
   * `performance.now()` for the `asyncScheduler` family, else the scheduler's `now()`. Default
   * `asyncScheduler`.
   */
  scheduler: z
    .custom<SchedulerLike>(isScheduler, {
      message: 'must be an RxJS SchedulerLike, with now() and schedule()',
    })
    .default(() => asyncScheduler),
  /**
   * Wall clock in ms since the epoch: `deadline_at`, and `hlc` as the schedule's clock carries it
   * (a step undone within a minute never reaches a stamp). Default `Date.now`.
   */
  physicalNow: z
    .custom<() => number>(isFunction, { message: 'must be a function' })
    .default(() => () => Date.now()),
  /**
   * Told of each error the pulse survives (a failed publish, say). Default: none; the pulse
   * carries on either way.
   */
  onError: z
    .custom<(error: unknown) => void>(isFunction, { message: 'must be a function' })
    .optional(),
});

/**
 * What `startPulse` accepts: `clusterId` (required); `natsUrl` or `connection`; `pulseId`,
 * `tempoBpm`, `beatsPerBar`, `phases`, `signingKey`, `epochMs` or `startIndex`, `scheduler`,
 * `physicalNow`, `onError`. Unknown keys are refused.
 *
 * @example
 * ```ts
 * const options: PulseOptions = { clusterId: 'chorus-dev', tempoBpm: 240, beatsPerBar: 3, signingKey };
 * const pulse = await startPulse(options);
 * ```
 */
export type PulseOptions = z.input<typeof PulseOptionsSchema>;

/** The options with every default filled, a signing key still unparsed. */
export type ResolvedPulseOptions = z.output<typeof PulseOptionsSchema> & {
  readonly pulseId: string;
  readonly natsUrl: string | string[];
  readonly startIndex: number;
};

/**
 * A fresh pulse id: `pulse-` and 16 random lowercase hex digits.
 *
 * @example
 * newPulseId(); // e.g. 'pulse-3f9c0e1a2b4d5c6e'
 * @return The id, a NATS token.
 */
export function newPulseId(): string {
  return `pulse-${randomHex(8)}`;
}

/**
 * Validates the pulse's options and fills the defaults.
 *
 * @example
 * resolvePulseOptions({ clusterId: 'chorus-dev' }).tempoBpm; // 120
 * resolvePulseOptions({ clusterId: 'a.b' }); // throws ConfigError, field 'clusterId'
 * @param options What the caller gave.
 * @return The options with defaults.
 * @throws ConfigError naming the first bad field (its top-level name; the message says which
 * item of a list).
 */
export function resolvePulseOptions(options: PulseOptions): ResolvedPulseOptions {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('options', 'must be an object');
  }
  const parsed = PulseOptionsSchema.safeParse(options);
  if (!parsed.success) throw configErrorOf(parsed.error.issues[0]);
  const value = parsed.data;
  if (value.connection !== undefined && value.natsUrl !== undefined) {
    throw new ConfigError('connection', 'give natsUrl or connection, not both');
  }
  if (value.epochMs !== undefined && value.startIndex !== undefined) {
    throw new ConfigError('epochMs', 'give epochMs or startIndex, not both');
  }
  return {
    ...value,
    pulseId: value.pulseId ?? newPulseId(),
    natsUrl: value.natsUrl ?? DEFAULT_PULSE_NATS_URL,
    startIndex: value.startIndex ?? 0,
  };
}

/**
 * Where a pulse on an epoch starts: the latest index due at `nowWallMs` and when it was due.
 *
 * @example
 * epochStart(1_000, 120, 3_700); // { index: 5, dueAgoMs: 200 }: beat 5 was due at 3500
 * @param epochMs When beat 0 was due (wall clock, ms since the Unix epoch).
 * @param tempoBpm The tempo.
 * @param nowWallMs The wall clock now.
 * @return The index, and how long ago it was due (ms, from 0 to a period).
 * @throws ConfigError (field `epochMs`) when the epoch is later than now, or so early that the
 * index due now is past 2^53−1.
 */
export function epochStart(
  epochMs: number,
  tempoBpm: number,
  nowWallMs: number,
): { index: number; dueAgoMs: number } {
  const period = 60000 / tempoBpm;
  const index = Math.floor((nowWallMs - epochMs) / period);
  if (index < 0) throw new ConfigError('epochMs', 'must not be later than now (the wall clock)');
  if (!(index <= MAX_BEAT_INDEX)) {
    throw new ConfigError('epochMs', 'is so early that the index due now is past 2^53−1');
  }
  return { index, dueAgoMs: Math.max(0, nowWallMs - (epochMs + index * period)) };
}

/**
 * Validates a tempo given to `setTempo`.
 *
 * @param tempoBpm The tempo.
 * @return It, when valid.
 * @throws ConfigError (field `tempoBpm`) when it is not a number from 1 to 6000.
 */
export function checkPulseTempo(tempoBpm: number): number {
  const parsed = pulseTempoSchema.safeParse(tempoBpm);
  if (!parsed.success) throw configErrorOf({ ...parsed.error.issues[0], path: ['tempoBpm'] });
  return parsed.data;
}

function configErrorOf(issue: z.core.$ZodIssue): ConfigError {
  if (issue.code === 'unrecognized_keys') {
    return new ConfigError(String(issue.keys[0]), 'is not a pulse option');
  }
  const [field, ...rest] = issue.path;
  const where = rest.length > 0 ? `item ${rest.map(String).join('.')}: ` : '';
  return new ConfigError(field === undefined ? 'options' : String(field), where + issue.message);
}
