/**
 * `backbeat stream ensure`: creates the JetStream status stream of a cluster, or checks it and
 * brings it up to date (ensureStatusStream).
 */
import type { NatsError, ServerInfo } from 'nats';
import { ConfigError } from '../errors';
import {
  ensureStatusStream,
  type EnsureStatusStreamResult,
} from '../transport/ensure-status-stream';
import { statusStreamName, statusStreamSubjects } from '../protocol/subjects';
import { CliRuntimeError, CliUsageError, ExitCode, type CliIo } from './cli-io';
import { dialNats } from './nats-connection';

/** The options commander parsed for `stream ensure`. */
export interface StreamEnsureCommandOptions {
  readonly cluster: string;
  readonly nats: readonly string[];
  /** Unset: 1 for a new stream, unchanged for an existing one (as the other settings). */
  readonly replicas?: number;
  readonly duplicateWindowMs?: number;
  readonly maxAgeMs?: number;
  /** Print the result as one JSON object. */
  readonly json?: boolean;
}

/** ensureStatusStream's option names, as the command line spells them. */
const FLAG_OF_FIELD: Readonly<Record<string, string>> = {
  clusterId: '--cluster',
  replicas: '--replicas',
  duplicateWindowMs: '--duplicate-window-ms',
  maxAgeMs: '--max-age-ms',
};

/**
 * Runs `backbeat stream ensure` and prints what it did.
 *
 * @example
 * await runStreamEnsure({ cluster: 'dev', nats: ['nats://localhost:4222'], replicas: 1 }, io); // 0
 * @return 0 once the stream exists as asked.
 * @throws CliUsageError for inconsistent options; CliRuntimeError when NATS cannot be reached,
 * has no JetStream, or refuses the stream (e.g. an existing stream with memory storage).
 */
export async function runStreamEnsure(
  options: StreamEnsureCommandOptions,
  io: CliIo,
): Promise<ExitCode> {
  const connection = await dialNats(options.nats, { name: 'backbeat-stream', reconnect: false });
  let result: EnsureStatusStreamResult;
  try {
    checkReplicas(options, connection.info);
    result = await ensureStatusStream(connection, options.cluster, given(options));
  } catch (error) {
    throw explain(error, options);
  } finally {
    await connection.close();
  }
  io.stdout.write(
    options.json === true ? `${JSON.stringify(result)}\n` : describe(result, options),
  );
  return ExitCode.Ok;
}

/** The settings given on the command line; those left out are not to be changed. */
function given(options: StreamEnsureCommandOptions) {
  const { replicas, duplicateWindowMs, maxAgeMs } = options;
  return {
    ...(replicas !== undefined && { replicas }),
    ...(duplicateWindowMs !== undefined && { duplicateWindowMs }),
    ...(maxAgeMs !== undefined && { maxAgeMs }),
  };
}

/**
 * The number of servers of the NATS cluster behind `info`, as the server reports it: 1 for a
 * server that is not in a cluster, else the client URLs it advertises for the cluster's
 * members; undefined when a clustered server advertises none (`no_advertise`).
 *
 * @example
 * clusterSize({ cluster: 'c1', connect_urls: ['10.0.0.1:4222', '10.0.0.2:4222', '10.0.0.3:4222'] } as ServerInfo); // 3
 * @return The cluster size, when known.
 */
export function clusterSize(info: Pick<ServerInfo, 'cluster' | 'connect_urls'> | undefined) {
  if (info === undefined) return undefined;
  if (info.cluster === undefined || info.cluster === '') return 1;
  const members = new Set(info.connect_urls ?? []).size;
  return members > 0 ? members : undefined;
}

/** Refuses more replicas than the NATS cluster has servers: JetStream cannot hold them. */
function checkReplicas(options: StreamEnsureCommandOptions, info: ServerInfo | undefined): void {
  const size = clusterSize(info);
  if (options.replicas === undefined || size === undefined || options.replicas <= size) return;
  const servers = size === 1 ? 'is a single server' : `is a cluster of ${size} servers`;
  throw new CliUsageError(
    `--replicas ${options.replicas}: NATS at ${options.nats.join(', ')} ${servers}, which can hold at most ${size} ${size === 1 ? 'replica' : 'replicas'} of a stream: use --replicas ${size}, or run a NATS cluster of ${options.replicas} servers`,
  );
}

/**
 * What ensureStatusStream did, for a person.
 *
 * @example
 * describe({ stream: 'BACKBEAT_STATUS_dev', created: true, updated: [] }, options);
 * // 'created stream BACKBEAT_STATUS_dev on backbeat.dev.status.> (file storage, 1 replica)\n'
 * @return One line.
 */
export function describe(
  result: EnsureStatusStreamResult,
  options: Pick<StreamEnsureCommandOptions, 'cluster' | 'replicas'>,
): string {
  const subjects = statusStreamSubjects(options.cluster);
  if (result.created) {
    const count = options.replicas ?? 1;
    const replicas = `${count} replica${count === 1 ? '' : 's'}`;
    return `created stream ${result.stream} on ${subjects} (file storage, ${replicas})\n`;
  }
  if (result.updated.length === 0) {
    return `stream ${result.stream} exists on ${subjects} as asked: nothing to change\n`;
  }
  return `updated stream ${result.stream} on ${subjects}: ${result.updated.join(', ')}\n`;
}

/** The error to report: usage for a bad option, runtime with a way forward otherwise. */
function explain(error: unknown, options: StreamEnsureCommandOptions): Error {
  const stream = statusStreamName(options.cluster);
  if (error instanceof CliUsageError) return error;
  if (error instanceof ConfigError) {
    const flag = FLAG_OF_FIELD[error.field];
    if (flag !== undefined) {
      return new CliUsageError(`${flag}: ${error.message.slice(error.field.length + 2)}`);
    }
    return new CliRuntimeError(`cannot ensure stream ${stream}: ${error.message}`);
  }
  if ((error as NatsError | null)?.code === '503') {
    return new CliRuntimeError(
      `NATS at ${options.nats.join(', ')} has no JetStream: start nats-server with -js (or enable jetstream in its config)`,
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new CliRuntimeError(`cannot ensure stream ${stream}: ${message}`);
}
