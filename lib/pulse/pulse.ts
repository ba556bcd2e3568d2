/**
 * The dev pulse: publishes docs/protocol.md BeatFrames on `backbeat.<cluster>.beat` on an absolute
 * schedule. The examples, tests and benchmarks run against it; `backbeat pulse` runs it from the
 * command line.
 */
import type { NatsConnection } from 'nats';
import { connectNats } from '../transport/dial';
import { carriedWallClock } from '../clock/carried-wall-clock';
import { monotonicNow } from '../clock/monotonic-now';
import { toMsgHdrs } from '../transport/msg-headers';
import { HybridLogicalClock } from '../clock/hlc';
import { parseSigningKey } from '../crypto/keys';
import { ConnectionError } from '../errors';
import { beatSubject } from '../protocol/subjects';
import { makePulseFrame } from './frame';
import { checkPulseTempo, epochStart, resolvePulseOptions, type PulseOptions } from './options';
import { startBeatSchedule, type ScheduledBeat } from './schedule';

export type { PulseOptions } from './options';

/**
 * A running dev pulse: change its tempo, read its last beat, stop it.
 *
 * @example
 * ```ts
 * await using pulse = await startPulse({ clusterId: 'chorus-dev', tempoBpm: 120 });
 * pulse.setTempo(90);
 * console.log(pulse.pulseId, pulse.beatIndex());
 * ```
 */
export interface Pulse {
  /** This pulse's id (the `pulse_id` of its frames, and the node of its HLC stamps). */
  readonly pulseId: string;
  /**
   * Changes the tempo from the next beat on: that beat still comes when the last frame's
   * `deadline_at` said, carrying the new tempo, and later beats follow the new period. No-op
   * after `stop()`.
   *
   * @example
   * ```ts
   * pulse.setTempo(90); // the next frame carries tempo_bpm 90; the one after comes 667 ms later
   * ```
   * @param bpm The new tempo in beats per minute, 1 to 6000.
   * @throws ConfigError (field `tempoBpm`) when `bpm` is not a number from 1 to 6000.
   */
  setTempo(bpm: number): void;
  /**
   * Stops the schedule, and closes the connection if the pulse dialled it (never a shared
   * `connection`). Idempotent: every call returns the same promise.
   *
   * @example
   * ```ts
   * await pulse.stop();
   * ```
   * @return Resolves once the schedule is stopped and an own connection closed.
   */
  stop(): Promise<void>;
  /**
   * The index of the last beat published (or attempted while disconnected).
   *
   * @example
   * ```ts
   * const pulse = await startPulse({ clusterId: 'chorus-dev', startIndex: 100 });
   * pulse.beatIndex(); // 100: the first beat goes out at once
   * ```
   * @return A beat index.
   */
  beatIndex(): number;
  /**
   * `await using pulse = await startPulse(…)` stops it at the end of the scope.
   *
   * @example
   * ```ts
   * {
   *   await using pulse = await startPulse({ clusterId: 'chorus-dev' });
   *   await runScenario();
   * } // pulse.stop() was awaited here
   * ```
   * @return The promise of `stop()`.
   */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Reconnect wait of a pulse's own connection: short, so that few beats fall in the gap. */
const PULSE_RECONNECT_WAIT_MS = 250;

/**
 * Starts a dev pulse. With `epochMs`, beat `i` is due at `epochMs + i × period` (wall clock) and
 * the index due now goes out at once; otherwise beat `startIndex` goes out at once. Beat `k` is
 * due one period after beat `k − 1` was due, from the start or the last tempo change (never
 * from when a timer happened to run, so lateness does not accumulate). A pulse restarted with
 * the same epoch, tempo and pulse id continues the same timeline: its followers see neither a
 * reset nor a gap, and their synthetic beats in between land where its beats would have. A frame published while NATS is disconnected is lost:
 * nats.js discards what it buffered when it dials again, and a stale beat is worth nothing. The
 * schedule keeps its time across the gap; a pulse that dialled its own connection reconnects for
 * ever, every 250 ms. A publish error never escapes: it goes to `onError`.
 *
 * @example
 * const pulse = await startPulse({ natsUrl: 'nats://localhost:4222', clusterId: 'chorus-dev' });
 * pulse.setTempo(90);
 * await pulse.stop();
 * @param options `clusterId` (required); `natsUrl` or `connection`; `pulseId`, `tempoBpm` (120),
 * `beatsPerBar` (4), `phases` (`['plan', 'work', 'work', 'review']`), `signingKey`, `epochMs`
 * (now) or `startIndex` (0), `scheduler`, `physicalNow`, `onError`.
 * @return The running pulse, once its first beat is published.
 * @throws ConfigError naming the first invalid option; ConnectionError when `natsUrl` cannot be
 * dialled.
 */
export async function startPulse(options: PulseOptions): Promise<Pulse> {
  const config = resolvePulseOptions(options);
  // Checked before dialling: a bad epoch needs no server.
  if (config.epochMs !== undefined)
    epochStart(config.epochMs, config.tempoBpm, config.physicalNow());
  const signingKey =
    config.signingKey === undefined ? undefined : parseSigningKey(config.signingKey);
  const { clusterId, pulseId, beatsPerBar, phases, physicalNow, onError } = config;
  const ownsConnection = config.connection === undefined;
  const connection = config.connection ?? (await dial(config.natsUrl, pulseId));
  const monoNow = monotonicNow(config.scheduler);
  // Stamps take the wall clock as the schedule's monotonic clock carries it: a step of this
  // host's clock undone within a minute must not leave every later frame an hour ahead.
  const clock = new HybridLogicalClock(pulseId, {
    physicalNow: carriedWallClock({ wallNow: physicalNow, monoNow }),
  });
  const subject = beatSubject(clusterId);

  const report = (error: unknown) => {
    try {
      onError?.(error);
    } catch {
      // A failing reporter must not stop the beat.
    }
  };

  const publish = (beat: ScheduledBeat) => {
    try {
      const { payload, headers } = makePulseFrame({
        clusterId,
        pulseId,
        beatIndex: beat.index,
        tempoBpm: beat.tempoBpm,
        beatsPerBar,
        phases,
        clock,
        deadlineAtMs: physicalNow() + (beat.nextDueAtMs - beat.nowMs),
        signingKey,
      });
      const signed = Object.keys(headers).length > 0;
      connection.publish(subject, payload, { headers: signed ? toMsgHdrs(headers) : undefined });
    } catch (error) {
      report(error);
    }
  };

  const start =
    config.epochMs === undefined
      ? { index: config.startIndex, dueAgoMs: 0 }
      : epochStart(config.epochMs, config.tempoBpm, physicalNow());
  const schedule = startBeatSchedule({
    scheduler: config.scheduler,
    startIndex: start.index,
    startDueAtMs: monoNow() - start.dueAgoMs,
    tempoBpm: config.tempoBpm,
    onBeat: publish,
    onError: report,
  });
  // A connection closed for good (by its owner, or after an auth failure) can publish nothing.
  void connection.closed().then(
    () => schedule.stop(),
    () => schedule.stop(),
  );

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      schedule.stop();
      if (ownsConnection && !connection.isClosed()) await connection.close();
    })());

  return {
    pulseId,
    setTempo: (bpm) => schedule.setTempo(checkPulseTempo(bpm)),
    stop,
    beatIndex: () => schedule.beatIndex(),
    [Symbol.asyncDispose]: stop,
  };
}

/** Dials NATS for the pulse: reconnect for ever, quickly. */
async function dial(servers: string | string[], pulseId: string): Promise<NatsConnection> {
  try {
    return await connectNats({
      servers,
      name: `backbeat-${pulseId}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: PULSE_RECONNECT_WAIT_MS,
    });
  } catch (error) {
    throw new ConnectionError(
      `the pulse cannot connect to NATS at ${String(servers)}: ${String(error)}`,
      { cause: error },
    );
  }
}
