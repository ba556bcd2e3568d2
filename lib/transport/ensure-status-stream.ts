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
  /** Copies of each claim, up to the size of the NATS cluster. Default 1. */
  readonly replicas?: number;
  /** How long a `Nats-Msg-Id` is remembered, so that a re-sent claim is stored once. Default 600000. */
  readonly duplicateWindowMs?: number;
  /** How long claims are kept. Default 86400000 (a day). */
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

/**
 * Creates the status stream of a cluster, `BACKBEAT_STATUS_<clusterId>` on
 * `backbeat.<clusterId>.status.>`, with file storage; or, when it exists, updates the settings
 * that differ from those asked (its subjects gain the status subjects if they lack them; the
 * replicas, duplicate window and maximum age are set). Its storage cannot be changed: a stream
 * that is not file-stored is refused with a ConfigError saying so.
 *
 * @example
 * await ensureStatusStream(nc, 'chorus-dev'); // { stream: 'BACKBEAT_STATUS_chorus-dev', created: true, updated: [] }
 * await ensureStatusStream(nc, 'chorus-dev', { replicas: 3 }); // { created: false, updated: ['replicas'] }
 * @param connection An open connection allowed to administer streams.
 * @param clusterId The cluster, a NATS token.
 * @param options Replicas, duplicate window and maximum age.
 * @return The stream's name, whether it was created, and which settings were updated.
 * @throws ConfigError naming `clusterId`, `replicas`, `duplicateWindowMs` or `maxAgeMs` when one
 * is invalid, or `storage` when an existing stream is not file-stored; nats.js errors otherwise
 * (JetStream not enabled, permissions, another stream already capturing the subjects).
 */
export async function ensureStatusStream(
  connection: NatsConnection,
  clusterId: string,
  options: EnsureStatusStreamOptions = {},
): Promise<EnsureStatusStreamResult> {
  const wanted = wantedSettings(clusterId, options);
  const stream = statusStreamName(clusterId);
  const jsm = await connection.jetstreamManager();
  const info = await streamInfo(jsm, stream);
  if (info === null) {
    await jsm.streams.add({ name: stream, storage: StorageType.File, ...wanted.config });
    return { stream, created: true, updated: [] };
  }
  const { config } = info;
  if (config.storage !== StorageType.File) {
    throw new ConfigError(
      'storage',
      `stream ${stream} exists with ${config.storage} storage, and JetStream cannot change a stream's storage: remove it (nats stream rm ${stream}) and ensure it again`,
    );
  }
  const updated: string[] = [];
  const subjects = config.subjects ?? [];
  if (!subjects.includes(wanted.subject)) updated.push('subjects');
  if (config.num_replicas !== wanted.config.num_replicas) updated.push('replicas');
  if (millis(config.duplicate_window) !== wanted.duplicateWindowMs)
    updated.push('duplicateWindowMs');
  if (millis(config.max_age) !== wanted.maxAgeMs) updated.push('maxAgeMs');
  if (updated.length > 0) {
    await jsm.streams.update(stream, {
      ...config,
      ...wanted.config,
      subjects: subjects.includes(wanted.subject) ? subjects : [...subjects, wanted.subject],
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

/** The settings asked for, checked. */
function wantedSettings(clusterId: string, options: EnsureStatusStreamOptions) {
  if (!isToken(clusterId)) {
    throw new ConfigError('clusterId', 'must be 1 to 128 of A-Z a-z 0-9 _ -');
  }
  const { replicas = 1, duplicateWindowMs = 600_000, maxAgeMs = 86_400_000 } = options;
  if (!Number.isInteger(replicas) || replicas < 1) {
    throw new ConfigError('replicas', `must be a positive integer, got ${replicas}`);
  }
  if (!Number.isInteger(duplicateWindowMs) || duplicateWindowMs < 1) {
    throw new ConfigError(
      'duplicateWindowMs',
      `must be a positive integer of ms, got ${duplicateWindowMs}`,
    );
  }
  if (!Number.isInteger(maxAgeMs) || maxAgeMs < duplicateWindowMs) {
    throw new ConfigError(
      'maxAgeMs',
      `must be an integer of ms no shorter than duplicateWindowMs (${duplicateWindowMs}), got ${maxAgeMs}`,
    );
  }
  const subject = statusStreamSubjects(clusterId);
  const config: Partial<StreamConfig> & { subjects: string[] } = {
    subjects: [subject],
    num_replicas: replicas,
    duplicate_window: nanos(duplicateWindowMs),
    max_age: nanos(maxAgeMs),
  };
  return { subject, config, duplicateWindowMs, maxAgeMs };
}
