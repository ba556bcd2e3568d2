/**
 * What the `backbeat` command is given instead of the process (arguments, output streams, the
 * environment, a stop signal), its exit codes, and the two kinds of failure it reports.
 */

/** Where the command writes text: `process.stdout`, or a test's capture. */
export interface TextSink {
  write(text: string): unknown;
  /** Terminal width, when the sink is one; help text wraps to it. */
  readonly columns?: number;
}

/** Everything the command reads from, and writes to, the outside world. */
export interface CliIo {
  /** The user's arguments, without `node` and the script: `['tap', '--cluster', 'dev']`. */
  readonly argv: readonly string[];
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /** Environment variables (`NATS_URL` is the default of `--nats`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGINT or SIGTERM: `pulse` and `tap` then stop cleanly and exit 0. */
  readonly signal?: AbortSignal;
}

/** Exit codes scripts can rely on. */
export const ExitCode = {
  /** Done, or stopped by SIGINT/SIGTERM, or `--count` beats seen. */
  Ok: 0,
  /** A runtime failure: NATS unreachable or lost for good, a stream that cannot be ensured. */
  Failure: 1,
  /** A usage error: unknown command or option, a bad value, an unreadable key file. */
  Usage: 2,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit codes as the help text documents them. */
export const EXIT_CODES_HELP = `Exit codes:
  0  success (for pulse and tap: stopped by SIGINT/SIGTERM, or --count beats seen)
  1  runtime failure (NATS unreachable or lost for good, stream cannot be ensured)
  2  usage error (unknown command or option, bad value, unreadable key file)`;

/** The user asked for something that cannot work as given: exit 2, the message says what to fix. */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
}

/** Something failed while running: exit 1, the message says what to do about it. */
export class CliRuntimeError extends Error {
  override readonly name = 'CliRuntimeError';
}
