import type { RejectedCounts } from '../beats/frame-intake';
import type { SummarySnapshot } from './summary';

/**
 * `metrics()`: plain numbers, grouped.
 *
 * @example
 * ```ts
 * const { beats, status } = client.metrics();
 * console.log(`${beats.delivered} beats, ${beats.missed} missed, ${status.dropped} claims dropped`);
 * ```
 */
export interface ClientMetrics {
  /** The NATS connection. */
  readonly connection: {
    /** 1 when connected, else 0. */
    readonly connected: number;
    /** Reconnections since start. */
    readonly reconnects: number;
    /** Time connected since start, ms. */
    readonly connectedTimeMs: number;
  };
  /** Beats received, delivered, missed and refused, and the time callbacks took. */
  readonly beats: {
    /** Payloads received on the beat subject. */
    readonly received: number;
    /** Beats delivered from pulse (and legacy) frames. */
    readonly delivered: number;
    /** Beats the client made itself while degraded. */
    readonly synthetic: number;
    /** Beat indexes skipped between delivered beats (the sum of their `missedBefore`). */
    readonly missed: number;
    /** Delivered beats that started a new timeline (docs/protocol.md section 9). */
    readonly timelineResets: number;
    /**
     * Accepted frames at or below the last delivered index: not delivered (they re-base the
     * schedule). With `delivered` and `rejected` (less `hlc-skew`, a flag on accepted frames)
     * it accounts for every frame received.
     */
    readonly behind: number;
    /** Lateness of accepted frames against the engine's schedule, ms. */
    readonly jitterMs: SummarySnapshot;
    /** Time spent in `onBeat`/`onDownbeat` callbacks, ms. */
    readonly callbackLatencyMs: SummarySnapshot;
    /** `onBeat`/`onDownbeat` callbacks that threw (or whose promise rejected). */
    readonly callbackErrors: number;
    /** Count by reason of docs/protocol.md sections 3 and 9. */
    readonly rejected: Readonly<RejectedCounts>;
  };
  /** Status claims. */
  readonly status: {
    /** Claims handed to nats.js (core) or acknowledged by the stream (JetStream). */
    readonly emitted: number;
    /** Core: publishes nats.js refused. JetStream: publish attempts that failed. */
    readonly errors: number;
    /** Claims waiting now: for the connection (core), or for their acknowledgement (JetStream). */
    readonly buffered: number;
    /** Claims dropped: the oldest beyond `statusBufferSize`, and those still waiting at `stop()`. */
    readonly dropped: number;
    /** JetStream: attempts after a claim's first one. Always 0 for core. */
    readonly retries: number;
  };
  /** Beat budgets of `withinBeats` and `withBeatBudget` made through the client. */
  readonly budgets: {
    /** Budgets started. */
    readonly created: number;
    /** Budgets whose work completed in time. */
    readonly completed: number;
    /** Budgets that expired (`BeatBudgetExceededError`). */
    readonly timedOut: number;
    /** Budgets waiting now on the client's `beat$`, however they were made. */
    readonly pending: number;
  };
  /** Errors the client met and survived. */
  readonly errors: {
    /**
     * Connection, permission and subscription failures, throwing callbacks, refused claim
     * inputs, and status publish errors.
     */
    readonly total: number;
    /** The last of them (status publish errors aside), null when none. */
    readonly last: LastError | null;
  };
}

/**
 * The last error a client met and survived: when, its code, what it said.
 *
 * @example
 * ```ts
 * const last = client.metrics().errors.last;
 * if (last) console.warn(`${new Date(last.atMs).toISOString()} ${last.code}: ${last.message}`);
 * ```
 */
export interface LastError {
  /** When it happened, ms since the epoch. */
  readonly atMs: number;
  /**
   * A stable code: the SDK error's own (`'BACKBEAT_STATUS_CLAIM_INVALID'` for a refused claim
   * input), else `'BACKBEAT_NATS_GAVE_UP'`, `'BACKBEAT_NATS_PERMISSION'`,
   * `'BACKBEAT_BEAT_SUBSCRIPTION'`, `'BACKBEAT_BEAT_CALLBACK'` or `'BACKBEAT_ATTACH'`.
   */
  readonly code: string;
  /** Its message. */
  readonly message: string;
}
