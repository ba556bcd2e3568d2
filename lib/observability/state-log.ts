import type { Beat } from '../beats/beat';
import type { Logger } from './logger';
import { beatSubject } from '../protocol/subjects';
import type { HealthStatus } from './health';

/** What a {@link StateLog} reads of the client when it words a line. */
export interface StateLogSource {
  /** The cluster followed: the beat subject in the silence reason. */
  readonly clusterId: string;
  /** The logger lines go to (the client's: one that cannot throw). */
  readonly logger: Logger;
  /** The monotonic clock, ms: silence is a duration, whatever the wall clock does. */
  readonly monoNow: () => number;
  /** The server the connection is on now, when connected. */
  readonly server: () => string | undefined;
}

/**
 * The client's state changes as log lines: one structured line per change, derived from what
 * the client already knows (its `health$` values and its delivered beats), so that transport
 * and engine stay free of logging. `info` for what needs nothing of the user, `warn` where the
 * user must act (degraded, status stream missing).
 *
 * Each message starts with `backbeat:`; the fields name the detail (`server`, `reconnects`,
 * `reason`, `syntheticBeats`, `from`/`to`, `subject`).
 */
export class StateLog {
  private last: Pick<HealthStatus, 'connected' | 'localDegradation' | 'reconnectCount'> = {
    connected: false,
    localDegradation: false,
    reconnectCount: 0,
  };
  private everConnected = false;
  /** Synthetic beats in the current run of them, and in the run that ended last. */
  private syntheticRun = 0;
  private lastSyntheticRun = 0;
  private pulseId: string | null = null;
  private lastIndex: number | null = null;
  /** When the last pulse (or legacy) beat came, or when the client started: silence since. */
  private quietSinceMs: number | null = null;

  constructor(private readonly source: StateLogSource) {}

  /** The client started following: silence is counted from now until a pulse frame comes. */
  started(): void {
    this.quietSinceMs ??= this.source.monoNow();
  }

  /**
   * Why a client that is connected but degraded hears no pulse, in words a user can act on
   * (a cluster name typo shows here).
   */
  silenceReason(): string {
    const subject = beatSubject(this.source.clusterId);
    const since = this.quietSinceMs ?? this.source.monoNow();
    const seconds = seconds1(this.source.monoNow() - since);
    return this.pulseId === null
      ? `connected to NATS but no pulse frame on ${subject} for ${seconds} s: is a pulse running for cluster '${this.source.clusterId}'? (check the cluster name)`
      : `connected to NATS but no pulse frame on ${subject} for ${seconds} s: pulse '${this.pulseId}' went silent`;
  }

  /**
   * Logs what changed between the last health value and `health`.
   *
   * @param health A value of the client's `health$`.
   */
  health(health: HealthStatus): void {
    const before = this.last;
    this.last = health;
    const { logger } = this.source;
    if (health.connected && !before.connected) {
      // Silence is counted while connected: a pulse could not be heard before.
      this.quietSinceMs = Math.max(this.quietSinceMs ?? 0, this.source.monoNow());
      if (health.reconnectCount > before.reconnectCount || this.everConnected) {
        logger.info(
          { server: this.source.server(), reconnects: health.reconnectCount },
          'backbeat: reconnected to NATS',
        );
      } else {
        logger.info({ server: this.source.server() }, 'backbeat: connected to NATS');
      }
      this.everConnected = true;
    } else if (!health.connected && before.connected) {
      logger.info({ reason: health.reason }, 'backbeat: disconnected from NATS');
    } else if (health.reconnectCount > before.reconnectCount) {
      // A reconnect seen only through its count (the disconnection went unreported).
      logger.info(
        { server: this.source.server(), reconnects: health.reconnectCount },
        'backbeat: reconnected to NATS',
      );
    }
    if (health.localDegradation && !before.localDegradation) {
      logger.warn(
        { reason: health.reason },
        `backbeat: degraded, keeping time on local synthetic beats: ${health.reason ?? 'no pulse'}`,
      );
    } else if (!health.localDegradation && before.localDegradation) {
      logger.info(
        { syntheticBeats: this.lastSyntheticRun, pulseId: this.pulseId },
        `backbeat: recovered: following pulse '${this.pulseId}' again after ${this.lastSyntheticRun} synthetic beats`,
      );
    }
  }

  /**
   * Logs what a delivered beat changes: the first pulse followed, a pulse switch, a timeline
   * reset; counts synthetic beats for the recovery line.
   *
   * @param beat A delivered beat, before the health change it may cause.
   */
  beat(beat: Beat): void {
    const { logger } = this.source;
    const previousIndex = this.lastIndex;
    this.lastIndex = beat.beat_index;
    if (beat.source === 'synthetic') {
      this.syntheticRun++;
      return;
    }
    // The health change this beat may cause (a recovery) comes once it is delivered.
    this.lastSyntheticRun = this.syntheticRun;
    this.syntheticRun = 0;
    this.quietSinceMs = this.source.monoNow();
    const subject = beatSubject(this.source.clusterId);
    if (this.pulseId === null) {
      logger.info(
        { pulseId: beat.pulse_id, subject, beatIndex: beat.beat_index, tempoBpm: beat.tempo_bpm },
        `backbeat: following pulse '${beat.pulse_id}' on ${subject}`,
      );
    } else if (beat.pulse_id !== this.pulseId) {
      logger.info(
        { from: this.pulseId, to: beat.pulse_id, beatIndex: beat.beat_index },
        `backbeat: pulse switched from '${this.pulseId}' to '${beat.pulse_id}'`,
      );
    }
    this.pulseId = beat.pulse_id;
    if (beat.timelineReset) {
      logger.info(
        { from: previousIndex, to: beat.beat_index, pulseId: beat.pulse_id },
        `backbeat: timeline reset: beat ${previousIndex} → ${beat.beat_index}`,
      );
    }
  }

  /**
   * Logs the status stream a JetStream client needs and does not find (warn: the user must
   * create it).
   *
   * @param message How to create it (the `ConfigError`'s message).
   */
  statusStreamMissing(message: string): void {
    this.source.logger.warn({ reason: message }, `backbeat: status stream missing: ${message}`);
  }
}

/** Seconds with one decimal below ten, whole above. */
function seconds1(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  return s < 10 ? s.toFixed(1) : String(Math.round(s));
}
