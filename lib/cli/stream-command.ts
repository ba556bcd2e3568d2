/**
 * `backbeat stream ensure`: creates the JetStream status stream of a cluster, or checks it and
 * brings it up to date (ensureStatusStream).
 */
import type { NatsError } from 'nats';
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
  readonly replicas: number;
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
 * @param options The parsed options.
 * @param io Where to print.
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
    result = await ensureStatusStream(connection, options.cluster, {
      replicas: options.replicas,
      duplicateWindowMs: options.duplicateWindowMs,
      maxAgeMs: options.maxAgeMs,
    });
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

/**
 * What ensureStatusStream did, for a person.
 *
 * @example
 * describe({ stream: 'BACKBEAT_STATUS_dev', created: true, updated: [] }, options);
 * // 'created stream BACKBEAT_STATUS_dev on backbeat.dev.status.> (file storage, 1 replica)\n'
 * @param result ensureStatusStream's result.
 * @param options The command's options.
 * @return One line.
 */
export function describe(
  result: EnsureStatusStreamResult,
  options: Pick<StreamEnsureCommandOptions, 'cluster' | 'replicas'>,
): string {
  const subjects = statusStreamSubjects(options.cluster);
  if (result.created) {
    const replicas = `${options.replicas} replica${options.replicas === 1 ? '' : 's'}`;
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
