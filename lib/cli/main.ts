/**
 * The `backbeat` command: `pulse`, `tap`, `board`, `keygen` and `stream ensure`. {@link main} runs it on
 * injected arguments and streams and resolves to the exit code; {@link runCli} runs it on the
 * process (the `bin/backbeat.js` shim, or `tsx lib/cli/main.ts`).
 */
import { Command, CommanderError, Option } from 'commander';
import { ConfigError } from '../errors';
import {
  collect,
  integerParser,
  parseNatsUrls,
  parsePhases,
  parseTempo,
  parseToken,
} from './arg-parsers';
import { CliUsageError, EXIT_CODES_HELP, ExitCode, type CliIo, type TextSink } from './cli-io';
import { runBoard, type BoardCommandOptions } from './board-command';
import { runKeygen, type KeygenCommandOptions } from './keygen-command';
import { DEFAULT_PULSE_PHASES } from '../pulse/options';
import { DEFAULT_NATS_URL } from './nats-connection';
import { ownPackage } from './own-package';
import {
  DEFAULT_CLI_EPOCH_MS,
  parseEpoch,
  runPulse,
  type PulseCommandOptions,
} from './pulse-command';
import { runStreamEnsure, type StreamEnsureCommandOptions } from './stream-command';
import { runTap, type TapCommandOptions } from './tap-command';

export type { CliIo, TextSink } from './cli-io';
export { ExitCode } from './cli-io';

/**
 * Runs the `backbeat` command. Never calls `process.exit`, never throws: every failure is a
 * message on `stderr` and an exit code (0 ok, 1 runtime failure, 2 usage error).
 *
 * @example
 * const code = await main({ argv: ['keygen'], stdout: process.stdout, stderr: process.stderr, env: process.env });
 * @param io The arguments, output streams, environment and stop signal.
 */
export async function main(io: CliIo): Promise<ExitCode> {
  let code: ExitCode = ExitCode.Ok;
  try {
    const program = buildProgram(io, (result) => (code = result));
    await program.parseAsync([...io.argv], { from: 'user' });
    return code;
  } catch (error) {
    return reportFailure(error, io.stderr);
  }
}

/**
 * Runs the command on the process: its arguments and streams, SIGINT and SIGTERM as the stop
 * signal (a second one exits at once), and the exit code as `process.exitCode`.
 *
 * @example
 * // bin/backbeat.js
 * require('../dist/cjs/cli/main.js').runCli();
 */
export async function runCli(): Promise<void> {
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(signal === 'SIGINT' ? 130 : 143);
    controller.abort();
  };
  // `backbeat tap | head`: a closed pipe is a reason to stop, not a crash.
  const onStdoutError = (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.on('error', onStdoutError);
  try {
    process.exitCode = await main({
      argv: process.argv.slice(2),
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      signal: controller.signal,
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** The exit code for an error that escaped a command, after saying what went wrong. */
function reportFailure(error: unknown, stderr: TextSink): ExitCode {
  // Commander has already printed its own message (or the help, or the version).
  if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  const message = error instanceof Error ? error.message : String(error);
  stderr.write(`error: ${message}\n`);
  if (error instanceof CliUsageError) {
    stderr.write('(run with --help for usage)\n');
    return ExitCode.Usage;
  }
  return error instanceof ConfigError ? ExitCode.Usage : ExitCode.Failure;
}

const EXAMPLES_HELP = `Examples:
  backbeat keygen --out pulse.key
  backbeat pulse --cluster chorus-dev --tempo 120 --key pulse.key --nats nats://localhost:4222
  backbeat tap --cluster chorus-dev --trusted-keys trusted.json
  backbeat tap --cluster chorus-dev --count 8 --json
  backbeat stream ensure --cluster chorus-dev --replicas 3
  backbeat board --cluster chorus-dev --nats ws://localhost:8080`;

/** The commander program, built afresh for each run (commander keeps parse state in it). */
function buildProgram(io: CliIo, setExitCode: (code: ExitCode) => void): Command {
  // An empty or blank NATS_URL (or one of commas only) is as good as none.
  const fromEnv = (io.env.NATS_URL ?? '').split(',').map((url) => url.trim());
  const defaultNats = fromEnv.filter((url) => url.length > 0).join(',') || DEFAULT_NATS_URL;
  const program = new Command('backbeat')
    .description('Run and watch a BACKBEAT beat on NATS: a dev pulse, a live tap, keys, streams.')
    .version(ownPackage(__dirname)?.version ?? 'unknown', '-V, --version')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      getOutHelpWidth: () => io.stdout.columns ?? 80,
      getErrHelpWidth: () => io.stderr.columns ?? 80,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', `\n${EXAMPLES_HELP}\n\n${EXIT_CODES_HELP}`);

  const clusterOption = () =>
    new Option('--cluster <id>', 'cluster id (a NATS token)')
      .argParser(parseToken)
      .makeOptionMandatory();
  const natsOption = () =>
    new Option('--nats <url>', 'NATS server URL(s), comma-separated; env NATS_URL sets the default')
      .argParser(parseNatsUrls)
      .default(parseNatsUrls(defaultNats), defaultNats);
  const subcommand = (parent: Command, name: string) =>
    parent.command(name).addHelpText('after', `\n${EXIT_CODES_HELP}`);

  subcommand(program, 'pulse')
    .description(
      'Publish beat frames on backbeat.<cluster>.beat until SIGINT/SIGTERM (then exit 0).',
    )
    .addOption(clusterOption())
    .addOption(
      new Option('--tempo <bpm>', 'beats per minute, 1 to 6000').argParser(parseTempo).default(120),
    )
    .addOption(
      new Option('--beats-per-bar <n>', 'beats in a bar (a window), 1 to 64')
        .argParser(integerParser(1, 64))
        .default(4),
    )
    .addOption(
      new Option(
        '--phases <list>',
        `phase labels cycled in each bar, comma-separated (default: ${DEFAULT_PULSE_PHASES.join(',')})`,
      ).argParser(parsePhases),
    )
    .addOption(
      new Option('--pulse-id <id>', 'this pulse instance (default: pulse-<random hex>)').argParser(
        parseToken,
      ),
    )
    .addOption(
      new Option(
        '--key <file>',
        'sign frames with this key: a file from `backbeat keygen --out`, or a file holding the base64 of a 64-byte secret key or a 32-byte seed',
      ),
    )
    .addOption(
      new Option(
        '--epoch <time>',
        'the timeline: beat i is due at epoch + i × period, and the pulse starts at the index due now (a restart with the same epoch and tempo continues the timeline); `now`, ms since the Unix epoch, or an RFC 3339 time',
      )
        .argParser(parseEpoch)
        .default(DEFAULT_CLI_EPOCH_MS, 'the Unix epoch: absolute indexes'),
    )
    .addOption(natsOption())
    .option('--verbose', 'print each beat as it goes out')
    .action(async (options: PulseCommandOptions) => setExitCode(await runPulse(options, io)));

  subcommand(program, 'tap')
    .description(
      'Print beats and status claims as they arrive, with their verdicts, and on each downbeat a table of every agent.',
    )
    .addOption(clusterOption())
    .addOption(natsOption())
    .addOption(
      new Option('--count <n>', 'exit 0 after this many beats').argParser(
        integerParser(1, Number.MAX_SAFE_INTEGER),
      ),
    )
    .addOption(
      new Option(
        '--trusted-keys <file>',
        'JSON { "<agentId>": "<base64 public key>" | [...] }; with it claims must be signed by a listed key, without it signatures are not required (unsigned claims show "ok (unsigned)")',
      ),
    )
    .addOption(
      new Option(
        '--pulse-key <base64>',
        'trust only frames signed by this pulse key (repeatable)',
      ).argParser(collect),
    )
    .option('--accept-legacy', 'convert legacy {bar, beat} frames instead of rejecting them')
    .option(
      '--json',
      'print NDJSON: one object per event, kind "beat", "frame-rejected", "claim" or "table"',
    )
    .action(async (options: TapCommandOptions) => setExitCode(await runTap(options, io)));

  subcommand(program, 'board')
    .description(
      "Serve a live page of the cluster (beat, lateness, agents) that the browser fills from nats-server's WebSocket listener.",
    )
    .addOption(clusterOption())
    .addOption(
      new Option(
        '--nats <url>',
        'nats-server WebSocket URL(s) as the browser reaches them, comma-separated; credentials as ws://user:password@host:port or ws://token@host:port',
      )
        .argParser(parseNatsUrls)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--port <n>', 'HTTP port of the page (0: a free one)')
        .argParser(integerParser(0, 65535))
        .default(7070),
    )
    .addOption(new Option('--host <address>', 'address to listen on').default('127.0.0.1'))
    .addOption(
      new Option(
        '--trusted-keys <file>',
        'JSON { "<agentId>": "<base64 public key>" | [...] }; with it claims must be signed by a listed key',
      ),
    )
    .action(async (options: BoardCommandOptions) => setExitCode(await runBoard(options, io)));

  subcommand(program, 'keygen')
    .description(
      'Make an Ed25519 key pair: prints the public key (base64) on stdout; --out writes the secret key file (mode 0600).',
    )
    .option('--out <file>', 'write the key file here (JSON {"secretKey", "publicKey"}, base64)')
    .option('--force', 'replace an existing --out file')
    .action(async (options: KeygenCommandOptions) => setExitCode(await runKeygen(options, io)));

  const stream = subcommand(program, 'stream').description(
    'Manage the JetStream stream that stores status claims.',
  );
  subcommand(stream, 'ensure')
    .description(
      'Create the status stream BACKBEAT_STATUS_<cluster> on backbeat.<cluster>.status.>, or check it and update settings that differ.',
    )
    .addOption(clusterOption())
    .addOption(natsOption())
    .addOption(
      new Option(
        '--replicas <n>',
        'copies of each claim, up to the NATS cluster size (default: 1 for a new stream; an existing one keeps each setting not given)',
      ).argParser(integerParser(1, 5)),
    )
    .addOption(
      new Option(
        '--duplicate-window-ms <ms>',
        'how long a Nats-Msg-Id is remembered (default: 600000 for a new stream)',
      ).argParser(integerParser(1, Number.MAX_SAFE_INTEGER)),
    )
    .addOption(
      new Option(
        '--max-age-ms <ms>',
        'how long claims are kept (default: 86400000 for a new stream)',
      ).argParser(integerParser(1, Number.MAX_SAFE_INTEGER)),
    )
    .option('--json', 'print the result as JSON {"stream", "created", "updated"}')
    .action(async (options: StreamEnsureCommandOptions) =>
      setExitCode(await runStreamEnsure(options, io)),
    );

  return program;
}

if (require.main === module) void runCli();
