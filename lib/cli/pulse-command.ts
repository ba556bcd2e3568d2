/**
 * `backbeat pulse`: runs a dev pulse (startPulse) until SIGINT or SIGTERM.
 */
import { InvalidArgumentError } from 'commander';
import { rfc3339Ms } from '../beats/deadline';
import { ConfigError } from '../errors';
import { beatSubject } from '../protocol/subjects';
import {
  DEFAULT_PULSE_PHASES,
  epochStart,
  newPulseId,
  resolvePulseOptions,
} from '../pulse/options';
import { startPulse, type Pulse } from '../pulse/pulse';
import { CliUsageError, ExitCode, type CliIo } from './cli-io';
import { readKeyFile } from './key-file';
import { aborted, dialNats, reportConnectionEvents } from './nats-connection';
import { formatBeat } from './tap-format';
import { TapSession } from './tap-session';

/** The options commander parsed for `pulse`. */
export interface PulseCommandOptions {
  readonly cluster: string;
  readonly nats: readonly string[];
  readonly tempo: number;
  readonly beatsPerBar: number;
  readonly pulseId?: string;
  /** A key file (as `backbeat keygen --out` writes) to sign the frames with. */
  readonly key?: string;
  readonly phases?: readonly string[];
  /** Print each beat as it goes out. */
  readonly verbose?: boolean;
  /** The timeline's epoch (ms since the Unix epoch); default {@link DEFAULT_CLI_EPOCH_MS}. */
  readonly epoch?: number;
}

/**
 * The epoch of `backbeat pulse` without `--epoch`: the Unix epoch. Indexes are then absolute
 * (beat `i` due at `i × period` since 1970-01-01T00:00:00Z): a pulse restarted at the same tempo
 * continues its timeline instead of starting again at 0, so window ids never repeat.
 */
export const DEFAULT_CLI_EPOCH_MS = 0;

/**
 * An `--epoch` value: `now`, ms since the Unix epoch, or an RFC 3339 time.
 *
 * @example
 * parseEpoch('0'); // 0
 * parseEpoch('2026-01-01T00:00:00Z'); // 1767225600000
 * parseEpoch('now'); // Date.now()
 * @return Ms since the Unix epoch.
 * @throws InvalidArgumentError for anything else.
 */
export function parseEpoch(value: string): number {
  const text = value.trim();
  if (text === 'now') return Date.now();
  const ms = /^-?[0-9]+$/.test(text) ? Number(text) : rfc3339Ms(text);
  if (!Number.isSafeInteger(Math.round(ms))) {
    throw new InvalidArgumentError(
      'must be `now`, ms since the Unix epoch, or an RFC 3339 time (2026-01-01T00:00:00Z)',
    );
  }
  return ms;
}

/** startPulse's option names, as the command line spells them. */
const FLAG_OF_FIELD: Readonly<Record<string, string>> = {
  clusterId: '--cluster',
  pulseId: '--pulse-id',
  tempoBpm: '--tempo',
  beatsPerBar: '--beats-per-bar',
  phases: '--phases',
  signingKey: '--key',
  epochMs: '--epoch',
};

/**
 * Runs `backbeat pulse` until the stop signal, then stops the pulse and closes NATS.
 *
 * @example
 * await runPulse({ cluster: 'dev', nats: ['nats://localhost:4222'], tempo: 120, beatsPerBar: 4 }, io);
 * @param io Where to print, and the stop signal.
 * @return 0 when stopped by the signal, 1 when the connection closed for good.
 * @throws CliUsageError for a bad key file or option; CliRuntimeError when NATS cannot be reached.
 */
export async function runPulse(options: PulseCommandOptions, io: CliIo): Promise<ExitCode> {
  const signingKey = options.key === undefined ? undefined : readKeyFile(options.key);
  const pulseId = options.pulseId ?? newPulseId();
  const phases = options.phases ?? DEFAULT_PULSE_PHASES;
  const pulseOptions = {
    clusterId: options.cluster,
    pulseId,
    tempoBpm: options.tempo,
    beatsPerBar: options.beatsPerBar,
    phases: [...phases],
    signingKey: signingKey?.secretKey,
    epochMs: options.epoch ?? DEFAULT_CLI_EPOCH_MS,
  };
  // Refuse bad options (a reserved phase, an epoch to come) before dialling: a usage error
  // needs no server.
  try {
    resolvePulseOptions(pulseOptions);
    epochStart(pulseOptions.epochMs, options.tempo, Date.now());
  } catch (error) {
    throw error instanceof ConfigError ? usageErrorOf(error) : error;
  }
  const connection = await dialNats(options.nats, {
    name: `backbeat-${pulseId}`,
    reconnect: true,
  });
  reportConnectionEvents(connection, io.stderr, `backbeat pulse ${pulseId}`);

  if (options.verbose === true) {
    // Our own frames, as the server hands them back: what went out, judged as a tap would.
    const session = new TapSession({
      clusterId: options.cluster,
      acceptLegacyFrames: false,
      trustedPulseKeys: [],
      trustedAgents: new Set(),
      physicalNow: () => Date.now(),
    });
    connection.subscribe(beatSubject(options.cluster), {
      callback: (_error, msg) => {
        for (const event of session.frame(msg.data, msg.headers, Date.now(), performance.now())) {
          if (event.kind === 'beat' && event.pulse_id === pulseId) {
            io.stdout.write(`${formatBeat(event)}\n`);
          }
        }
      },
    });
    await connection.flush();
  }

  let pulse: Pulse;
  try {
    pulse = await startPulse({
      ...pulseOptions,
      connection,
      onError: (error) => io.stderr.write(`backbeat pulse ${pulseId}: ${String(error)}\n`),
    });
  } catch (error) {
    await connection.close();
    throw error;
  }

  io.stdout.write(
    `backbeat pulse ${pulseId}: cluster ${options.cluster}, ${options.tempo} BPM, ` +
      `${options.beatsPerBar} beats per bar, phases ${phases.join(',')}, ` +
      `epoch ${new Date(pulseOptions.epochMs).toISOString()}, ` +
      (signingKey === undefined
        ? 'frames unsigned'
        : `frames signed by ${signingKey.publicKeyBase64}`) +
      `, on ${beatSubject(options.cluster)} at ${options.nats.join(', ')}; stop with Ctrl-C\n`,
  );

  const stoppedBy = await Promise.race([
    aborted(io.signal).then(() => 'signal' as const),
    connection.closed().then((error) => error ?? new Error('closed by the server')),
  ]);
  await pulse.stop();
  if (stoppedBy !== 'signal') {
    io.stderr.write(
      `error: the connection to NATS closed for good: ${stoppedBy.message}; the pulse stopped\n`,
    );
    return ExitCode.Failure;
  }
  await connection.close();
  io.stdout.write(`backbeat pulse ${pulseId}: stopped after beat ${pulse.beatIndex()}\n`);
  return ExitCode.Ok;
}

/** A startPulse option error, in the command line's words. */
function usageErrorOf(error: ConfigError): CliUsageError {
  const flag = FLAG_OF_FIELD[error.field] ?? error.field;
  return new CliUsageError(`${flag}: ${error.message.slice(error.field.length + 2)}`);
}
