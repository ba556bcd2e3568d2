/**
 * A client's snapshots: `health()`, `health$` and `metrics()`, assembled from its parts.
 */
import { defer, startWith, Subject, type Observable, type Subscription } from 'rxjs';
import type { Beat } from '../beats/beat';
import type { BeatCallbacks } from '../beats/beat-callbacks';
import type { ClientBeats } from '../beats/client-beats';
import type { ClientBudgets } from '../beats/client-budgets';
import type { ClaimFlow } from '../claims/claim-flow';
import type { ClientConnection } from '../lifecycle/connection';
import type { StatusPublisher } from '../transport/status-publisher';
import type { ErrorLog } from './error-log';
import { healthChanged, type HealthStatus } from './health';
import type { ClientMetrics } from './metrics';
import type { StateLog } from './state-log';

/** The parts a client's snapshots read. */
export interface SnapshotSources {
  readonly beats: ClientBeats;
  readonly beat$: Observable<Beat>;
  readonly publisher: StatusPublisher;
  readonly claims: ClaimFlow;
  readonly budgets: ClientBudgets;
  readonly callbacks: BeatCallbacks;
  readonly errors: ErrorLog;
  readonly connection: ClientConnection;
  readonly stateLog: StateLog;
}

/** A client's health and metrics; it also tells the state log of each change and beat. */
export class ClientSnapshots {
  /** The current health, then each change; completes at `complete()`. */
  readonly health$: Observable<HealthStatus>;
  private readonly changes = new Subject<HealthStatus>();
  private last: HealthStatus;
  private readonly logging: Subscription[];

  constructor(private readonly sources: SnapshotSources) {
    this.last = this.health();
    this.health$ = defer(() => this.changes.pipe(startWith(this.health())));
    const { stateLog } = sources;
    this.logging = [
      this.changes.subscribe((health) => stateLog.health(health)),
      sources.beat$.subscribe((beat) => stateLog.beat(beat)),
    ];
  }

  /** Ends what the state log follows (at stop(), once the beats have ended). */
  stopLogging(): void {
    for (const subscription of this.logging) subscription.unsubscribe();
  }

  health(): HealthStatus {
    const { beats, connection, stateLog } = this.sources;
    const { engine } = beats;
    const { link } = connection;
    const state = engine.state;
    return Object.freeze({
      connected: link?.connected ?? false,
      lastBeat: state.currentBeat?.beat_index ?? -1,
      lastBeatTime: state.currentBeat ? new Date(state.currentBeat.receivedAtMs) : null,
      timeDriftMs: state.timeDriftMs,
      reconnectCount: link?.reconnects ?? 0,
      localDegradation: state.degraded,
      tempoBpm: state.tempoBpm,
      reason:
        connection.reason ??
        link?.failure ??
        (state.degraded && link?.connected ? stateLog.silenceReason() : null),
    });
  }

  /** Emits on `health$` when what it reports has changed; cheap when nothing has. */
  refresh(): void {
    const { beats, connection } = this.sources;
    const { engine } = beats;
    const key = {
      connected: connection.link?.connected ?? false,
      localDegradation: engine.degraded,
      reconnectCount: connection.link?.reconnects ?? 0,
      tempoBpm: engine.currentTempoBpm,
    };
    if (!healthChanged(this.last, key)) return;
    this.last = this.health();
    this.changes.next(this.last);
  }

  complete(): void {
    this.changes.complete();
  }

  metrics(): ClientMetrics {
    const { beats, publisher, claims, budgets, callbacks, errors, connection } = this.sources;
    const { engine, intake } = beats;
    const { link } = connection;
    const { counters } = engine.state;
    const status = publisher.metrics();
    return {
      connection: {
        connected: link?.connected ? 1 : 0,
        reconnects: link?.reconnects ?? 0,
        connectedTimeMs: connection.connectedTimeMs,
      },
      beats: {
        received: intake.received,
        delivered: counters.pulseBeats + counters.legacyBeats,
        synthetic: counters.syntheticBeats,
        missed: counters.missed,
        timelineResets: counters.timelineResets,
        behind: counters.behind,
        jitterMs: intake.jitterMs.snapshot(),
        callbackLatencyMs: callbacks.latency.snapshot(),
        callbackErrors: callbacks.errors,
        rejected: { ...intake.rejected },
      },
      status: {
        emitted: status.emitted,
        errors: status.errors,
        buffered: status.buffered + claims.buffered,
        dropped: status.dropped + claims.dropped,
        retries: status.retries,
      },
      budgets: {
        created: budgets.created,
        completed: budgets.completed,
        timedOut: budgets.timedOut,
        pending: beats.budgetIndex.size,
      },
      errors: {
        total: errors.count + status.errors + (link?.faults ?? 0),
        last: errors.last,
      },
    };
  }
}
