/**
 * `backbeat tap`: prints a cluster's beats and status claims as they arrive, with the frame
 * judge's and the observer's verdicts, and once a bar a table of every agent's latest state.
 */
import type { Msg } from 'nats';
import { Subject, zip } from 'rxjs';
import { carriedWallClock } from '../clock/carried-wall-clock';
import { defaultConfig } from '../config';
import { parsePublicKey } from '../crypto/keys';
import { verifyStatus } from '../operators/verify-status';
import { beatSubject, statusWildcard } from '../protocol/subjects';
import { CliRuntimeError, CliUsageError, ExitCode, type CliIo } from './cli-io';
import { aborted, dialNats, reportConnectionEvents } from './nats-connection';
import { formatEventJson, formatEventText } from './tap-format';
import { silenceAfter } from './tap-silence';
import { TapSession } from './tap-session';
import type { TapEvent } from './tap-events';
import { readTrustedKeysFile } from './trusted-keys-file';

/** The options commander parsed for `tap`. */
export interface TapCommandOptions {
  readonly cluster: string;
  readonly nats: readonly string[];
  /** Exit 0 after this many beats. */
  readonly count?: number;
  /** A JSON file of agent id → trusted public key(s); signatures are then required. */
  readonly trustedKeys?: string;
  /** Print NDJSON instead of text. */
  readonly json?: boolean;
  /** Convert legacy `{ bar, beat }` frames instead of rejecting them. */
  readonly acceptLegacy?: boolean;
  /** Public keys (base64) of trusted pulses: frames not signed by one are rejected. */
  readonly pulseKey?: readonly string[];
}

/**
 * Runs `backbeat tap` until `--count` beats, the stop signal, or the loss of NATS for good.
 *
 * @example
 * await runTap({ cluster: 'dev', nats: ['nats://localhost:4222'], count: 3, json: true }, io); // 0
 * @param io Where to print, and the stop signal.
 * @return 0 when stopped by `--count` or the signal, 1 when the connection closed for good.
 * @throws CliUsageError for a bad trusted keys file or pulse key; CliRuntimeError when NATS
 * cannot be reached.
 */
export async function runTap(options: TapCommandOptions, io: CliIo): Promise<ExitCode> {
  const trustedKeys =
    options.trustedKeys === undefined ? undefined : readTrustedKeysFile(options.trustedKeys);
  const trustedPulseKeys = (options.pulseKey ?? []).map((key) => {
    try {
      return parsePublicKey(key, '--pulse-key');
    } catch {
      throw new CliUsageError(
        `--pulse-key ${key}: must be the base64 of a 32-byte Ed25519 public key (as backbeat keygen prints)`,
      );
    }
  });
  // Verdicts (stale, clock-skew) judged on a clock that a short step of this host's does not move.
  const physicalNow = carriedWallClock();
  // A trusted keys file means the user cares who speaks: then unsigned claims are refused.
  const verify = verifyStatus({
    trustedKeys: trustedKeys ?? {},
    requireSignature: trustedKeys !== undefined,
    physicalNow,
  });
  const session = new TapSession({
    clusterId: options.cluster,
    acceptLegacyFrames: options.acceptLegacy === true,
    trustedPulseKeys,
    trustedAgents: new Set(Object.keys(trustedKeys ?? {})),
    physicalNow,
  });
  const format = options.json === true ? formatEventJson : formatEventText;

  const connection = await dialNats(options.nats, { name: 'backbeat-tap', reconnect: true });
  reportConnectionEvents(connection, io.stderr, 'backbeat tap');
  let finished = false;
  let resolveDone: (code: ExitCode) => void = () => undefined;
  const done = new Promise<ExitCode>((resolve) => (resolveDone = resolve));
  /** Ends the run with its exit code; the first call wins, and later messages are ignored. */
  const finish = (code: ExitCode) => {
    if (finished) return;
    finished = true;
    resolveDone(code);
  };
  const print = (events: readonly TapEvent[]) => {
    for (const event of events) io.stdout.write(format(event));
  };

  let beats = 0;
  // Two periods without a message on the beat subject: at the last tempo seen, else at the
  // client's fallback tempo (the same wait after which a client degrades, and some slack).
  const subject = beatSubject(options.cluster);
  const quietMs = (tempoBpm: number) => (2 * 60_000) / tempoBpm;
  let tempoBpm = defaultConfig().fallbackTempoBpm;
  const arrivals = new Subject<number>();
  const silences = arrivals.pipe(silenceAfter(quietMs(tempoBpm))).subscribe((ms) => {
    if (finished) return;
    io.stderr.write(
      `backbeat tap: no beat on ${subject} for ${ms / 1000} s: is a pulse running for cluster '${options.cluster}'? ` +
        `(check the name; start one with: backbeat pulse --cluster ${options.cluster} --nats ${options.nats[0]})\n`,
    );
  });
  const frames = connection.subscribe(subject, {
    callback: (_error, msg) => {
      if (finished) return;
      const events = session.frame(msg.data, msg.headers, Date.now(), performance.now());
      if (events[0]?.kind === 'beat') tempoBpm = events[0].tempo_bpm;
      arrivals.next(quietMs(tempoBpm));
      print(events);
      if (events[0]?.kind === 'beat' && ++beats === options.count) finish(ExitCode.Ok);
    },
  });
  // Pairing each message with its verdict (verifyStatus maps one to one, in order).
  const claimMessages = new Subject<Msg>();
  const verdicts = zip(claimMessages, claimMessages.pipe(verify)).subscribe(([msg, verdict]) => {
    if (!finished) print(session.claim(verdict, msg, Date.now()));
  });
  const claims = connection.subscribe(statusWildcard(options.cluster), {
    callback: (_error, msg) => claimMessages.next(msg),
  });

  void aborted(io.signal).then(() => finish(ExitCode.Ok));
  void connection.closed().then((error) => {
    if (finished) return;
    io.stderr.write(
      `error: the connection to NATS closed${error ? `: ${error.message}` : ''}; tap stopped\n`,
    );
    finish(ExitCode.Failure);
  });

  try {
    await connection.flush();
  } catch (error) {
    silences.unsubscribe();
    await connection.close();
    throw new CliRuntimeError(`NATS did not confirm the subscriptions: ${String(error)}`);
  }
  io.stderr.write(
    `backbeat tap: listening on ${beatSubject(options.cluster)} and ${statusWildcard(options.cluster)} at ${options.nats.join(', ')}; ` +
      (trustedKeys === undefined
        ? 'claims need no signature (no --trusted-keys)\n'
        : `claims must be signed by a key in ${options.trustedKeys}\n`),
  );

  const code = await done;
  silences.unsubscribe();
  frames.unsubscribe();
  claims.unsubscribe();
  verdicts.unsubscribe();
  claimMessages.complete();
  if (!connection.isClosed()) await connection.close();
  return code;
}
