/**
 * The JetStream stream that stores a cluster's status claims (README.md, Delivery guarantees):
 * created or brought up to date by an administrator, only checked by agents (an agent's
 * permissions should not include stream administration).
 */
import {
  millis,
  nanos,
  StorageType,
  type JetStreamManager,
  type NatsConnection,
  type NatsError,
  type StreamConfig,
  type StreamInfo,
} from 'nats';
import { ConfigError } from '../errors';
import { isToken, statusStreamName, statusStreamSubjects } from '../protocol/subjects';

/**
 * Options of {@link ensureStatusStream}: the status stream's replicas, duplicate window and
 * maximum age.
 *
 * @example
 * ```ts
 * const options: EnsureStatusStreamOptions = { replicas: 3, maxAgeMs: 7 * 86_400_000 };
 * await ensureStatusStream(nc, 'chorus-dev', options);
 * ```
 */
export interface EnsureStatusStreamOptions {
  /** Copies of each claim, up to the size of the NATS cluster. Default 1 (new stream). */
  readonly replicas?: number;
  /** How long a `Nats-Msg-Id` is remembered, so that a re-sent claim is stored once. Default 600000 (new stream). */
  readonly duplicateWindowMs?: number;
  /**
   * How long claims are kept. Default 86400000, a day (new stream). An existing stream keeps the
   * settings not given.
   */
  readonly maxAgeMs?: number;
}

/**
 * What {@link ensureStatusStream} did: the stream's name, whether it was created, and which
 * settings it updated.
 *
 * @example
 * ```ts
 * const { stream, created, updated }: EnsureStatusStreamResult = await ensureStatusStream(nc, 'chorus-dev');
 * if (!created && updated.length > 0) log.info({ stream, updated }, 'status stream updated');
 * ```
 */
export interface EnsureStatusStreamResult {
  /** `BACKBEAT_STATUS_<clusterId>`. */
  readonly stream: string;
  /** True when the stream did not exist and was created. */
  readonly created: boolean;
  /**
   * The settings an existing stream had otherwise and that were updated: `subjects`,
   * `replicas`, `duplicateWindowMs`, `maxAgeMs`. Empty when it was as asked.
   */
  readonly updated: readonly string[];
}

/** JetStream's error code for a stream that does not exist. */
const STREAM_NOT_FOUND = 10059;

/** The settings of a new stream that are not given. */
const NEW_STREAM_DEFAULTS = { replicas: 1, duplicateWindowMs: 600_000, maxAgeMs: 86_400_000 };

/**
 * Creates the status stream of a cluster, `BACKBEAT_STATUS_<clusterId>` on
 * `backbeat.<clusterId>.status.>`, with file storage and the settings given (the defaults for
 * those not given); or, when it exists, sets the settings given that differ, and adds the status
 * subjects if its subjects lack them. Settings not given are left as the existing stream has
 * them: ensuring again without options never undoes an administrator's replicas or retention.
 * Its storage cannot be changed: a stream that is not file-stored is refused with a ConfigError
 * saying so.
 *
 * @example
 * await ensureStatusStream(nc, 'chorus-dev'); // { stream: 'BACKBEAT_STATUS_chorus-dev', created: true, updated: [] }
 * await ensureStatusStream(nc, 'chorus-dev', { replicas: 3 }); // { created: false, updated: ['replicas'] }
 * await ensureStatusStream(nc, 'chorus-dev'); // { created: false, updated: [] }: still 3 replicas
 * @param connection An open connection allowed to administer streams.
 * @param clusterId The cluster, a NATS token.
 * @param options Replicas, duplicate window and maximum age.
 * @return The stream's name, whether it was created, and which settings were updated.
 * @throws ConfigError naming `clusterId`, `replicas`, `duplicateWindowMs` or `maxAgeMs` when one
 * is invalid (a maximum age shorter than the duplicate window, given or kept, included), or
 * `storage` when an existing stream is not file-stored; nats.js errors otherwise (JetStream not
 * enabled, permissions, another stream already capturing the subjects).
 */
export async function ensureStatusStream(
  connection: NatsConnection,
  clusterId: string,
  options: EnsureStatusStreamOptions = {},
): Promise<EnsureStatusStreamResult> {
  if (!isToken(clusterId)) {
    throw new ConfigError('clusterId', 'must be 1 to 128 of A-Z a-z 0-9 _ -');
  }
  const given = givenSettings(options);
  const stream = statusStreamName(clusterId);
  const subject = statusStreamSubjects(clusterId);
  const jsm = await connection.jetstreamManager();
  const info = await streamInfo(jsm, stream);
  if (info === null) {
    const wanted = checkedAges({ ...NEW_STREAM_DEFAULTS, ...given }, given);
    await jsm.streams.add({
      name: stream,
      storage: StorageType.File,
      subjects: [subject],
      ...streamSettings(wanted),
    });
    return { stream, created: true, updated: [] };
  }
  const { config } = info;
  if (config.storage !== StorageType.File) {
    throw new ConfigError(
      'storage',
      `stream ${stream} exists with ${config.storage} storage, and JetStream cannot change a stream's storage: remove it (nats stream rm ${stream}) and ensure it again`,
    );
  }
  const current: Settings = {
    replicas: config.num_replicas,
    duplicateWindowMs: millis(config.duplicate_window),
    maxAgeMs: millis(config.max_age),
  };
  const wanted = checkedAges({ ...current, ...given }, given);
  const subjects = config.subjects ?? [];
  const updated: string[] = [];
  if (!subjects.includes(subject)) updated.push('subjects');
  for (const key of ['replicas', 'duplicateWindowMs', 'maxAgeMs'] as const) {
    if (wanted[key] !== current[key]) updated.push(key);
  }
  if (updated.length > 0) {
    await jsm.streams.update(stream, {
      ...config,
      // Only what is given: a kept setting goes back exactly as the stream has it.
      ...streamSettings(given),
      subjects: subjects.includes(subject) ? subjects : [...subjects, subject],
    });
  }
  return { stream, created: false, updated };
}

/**
 * Checks that the status stream of a cluster exists, as an agent with `statusDelivery:
 * 'jetstream'` does at `start()` (it never creates the stream).
 *
 * @example
 * await checkStatusStream(nc, 'chorus-dev'); // throws ConfigError('statusDelivery', …) when absent
 * @param connection An open connection.
 * @param clusterId The cluster.
 * @return Resolves when the stream exists.
 * @throws ConfigError naming `statusDelivery` when the stream does not exist or the server has
 * no JetStream, saying how to create it; nats.js errors otherwise (e.g. permissions).
 */
export async function checkStatusStream(
  connection: NatsConnection,
  clusterId: string,
): Promise<void> {
  const stream = statusStreamName(clusterId);
  const howToCreate = `run ensureStatusStream(connection, '${clusterId}') or \`backbeat stream ensure --cluster ${clusterId} --nats URL\``;
  let jsm: JetStreamManager;
  try {
    jsm = await connection.jetstreamManager();
  } catch (error) {
    if ((error as NatsError).code === '503') {
      throw new ConfigError(
        'statusDelivery',
        `'jetstream' needs JetStream, which the NATS server does not offer: enable it, then ${howToCreate}`,
        { cause: error },
      );
    }
    throw error;
  }
  if ((await streamInfo(jsm, stream)) === null) {
    throw new ConfigError(
      'statusDelivery',
      `'jetstream' needs the stream ${stream} on ${statusStreamSubjects(clusterId)}, which does not exist: ${howToCreate}`,
    );
  }
}

/** The stream's info, or null when it does not exist. */
async function streamInfo(jsm: JetStreamManager, stream: string): Promise<StreamInfo | null> {
  try {
    return await jsm.streams.info(stream);
  } catch (error) {
    if ((error as NatsError).api_error?.err_code === STREAM_NOT_FOUND) return null;
    throw error;
  }
}

interface Settings {
  readonly replicas: number;
  readonly duplicateWindowMs: number;
  /** 0: kept for ever (JetStream's unlimited age, only on an existing stream). */
  readonly maxAgeMs: number;
}

/** The settings given, each checked on its own. */
function givenSettings(options: EnsureStatusStreamOptions): Partial<Settings> {
  const { replicas, duplicateWindowMs, maxAgeMs } = options;
  if (replicas !== undefined && !(Number.isInteger(replicas) && replicas >= 1)) {
    throw new ConfigError('replicas', `must be a positive integer, got ${replicas}`);
  }
  for (const [field, ms] of [
    ['duplicateWindowMs', duplicateWindowMs],
    ['maxAgeMs', maxAgeMs],
  ] as const) {
    if (ms !== undefined && !(Number.isInteger(ms) && ms >= 1)) {
      throw new ConfigError(field, `must be a positive integer of ms, got ${ms}`);
    }
  }
  return {
    ...(replicas !== undefined && { replicas }),
    ...(duplicateWindowMs !== undefined && { duplicateWindowMs }),
    ...(maxAgeMs !== undefined && { maxAgeMs }),
  };
}

/**
 * The settings, refused when claims would expire before their duplicate window ends: naming
 * `maxAgeMs` when it was given, else `duplicateWindowMs` (the stream's own age was kept).
 */
function checkedAges(settings: Settings, given: Partial<Settings>): Settings {
  const { duplicateWindowMs, maxAgeMs } = settings;
  if (maxAgeMs === 0 || maxAgeMs >= duplicateWindowMs) return settings;
  if (given.maxAgeMs !== undefined) {
    throw new ConfigError(
      'maxAgeMs',
      `must be an integer of ms no shorter than duplicateWindowMs (${duplicateWindowMs}), got ${maxAgeMs}`,
    );
  }
  throw new ConfigError(
    'duplicateWindowMs',
    `must be no longer than the stream's maximum age (${maxAgeMs} ms, kept: give maxAgeMs too to change it), got ${duplicateWindowMs}`,
  );
}

/** The settings as JetStream's stream configuration spells them (those present). */
function streamSettings(settings: Partial<Settings>): Partial<StreamConfig> {
  const { replicas, duplicateWindowMs, maxAgeMs } = settings;
  return {
    ...(replicas !== undefined && { num_replicas: replicas }),
    ...(duplicateWindowMs !== undefined && { duplicate_window: nanos(duplicateWindowMs) }),
    ...(maxAgeMs !== undefined && { max_age: nanos(maxAgeMs) }),
  };
}
