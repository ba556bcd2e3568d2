import type { RejectedCounts } from '../beats/frame-intake';
import type { SummarySnapshot } from './summary';

/** `metrics()`: plain numbers, grouped (API.md). */
export interface ClientMetrics {
  readonly connection: {
    /** 1 when connected, else 0. */
    readonly connected: number;
    readonly reconnects: number;
    /** Time connected since start, ms. */
    readonly connectedTimeMs: number;
  };
  readonly beats: {
    /** Payloads received on the beat subject. */
    readonly received: number;
    /** Beats delivered from pulse (and legacy) frames. */
    readonly delivered: number;
    readonly synthetic: number;
    readonly missed: number;
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
    readonly callbackErrors: number;
    /** Count by reason of PROTOCOL.md sections 3 and 9. */
    readonly rejected: Readonly<RejectedCounts>;
  };
  readonly status: {
    readonly emitted: number;
    readonly errors: number;
    readonly buffered: number;
    readonly dropped: number;
    readonly retries: number;
  };
  readonly budgets: {
    readonly created: number;
    readonly completed: number;
    readonly timedOut: number;
    readonly pending: number;
  };
  readonly errors: {
    readonly total: number;
    /** When the last error happened (ms since the epoch), 0 when none. */
    readonly last: number;
  };
}
