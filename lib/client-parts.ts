/**
 * What a client is made of, and how the parts are wired. Data flows one way:
 * NATS bytes → the frame judge → the beat engine → `beat$` → subscribers, budgets, claims.
 */
import type { Observable } from 'rxjs';
import type { Beat } from './beats/beat';
import { BeatCallbacks } from './beats/beat-callbacks';
import { clientBeats } from './beats/client-beats';
import { ClientBudgets } from './beats/client-budgets';
import type { BeatEngine } from './beats/engine';
import type { ClaimFlow } from './claims/claim-flow';
import { clientClaims } from './claims/client-claims';
import { carriedWallClock } from './clock/carried-wall-clock';
import { HybridLogicalClock } from './clock/hlc';
import { monotonicNow } from './clock/monotonic-now';
import { resolveConfig, type Config, type ResolvedConfig } from './config';
import { ClientConnection } from './lifecycle/connection';
import type { ClientRuntime } from './lifecycle/options';
import { ErrorLog } from './observability/error-log';
import type { HealthStatus } from './observability/health';
import { guardLogger } from './observability/logger';
import { ClientSnapshots } from './observability/snapshots';
import { StateLog } from './observability/state-log';
import type { StatusPublisher } from './transport/status-publisher';

/** A client's parts; `BackbeatClient` forwards each call to one of them. */
export interface ClientParts {
  /** Frozen, with the user's logger guarded. */
  readonly config: ResolvedConfig;
  /** The HLC's `pt`: the wall clock as the monotonic clock carries it. */
  readonly carriedNow: () => number;
  readonly engine: BeatEngine;
  readonly beat$: Observable<Beat>;
  readonly downbeat$: Observable<Beat>;
  readonly health$: Observable<HealthStatus>;
  readonly publisher: StatusPublisher;
  readonly claims: ClaimFlow;
  readonly budgets: ClientBudgets;
  readonly callbacks: BeatCallbacks;
  readonly connection: ClientConnection;
  readonly snapshots: ClientSnapshots;
}

/**
 * Builds the parts of `client` from `partial`, a config over `defaultConfig()`.
 *
 * @throws ConfigError when the config is invalid.
 */
export function wireClient(
  client: object,
  partial: Partial<Config>,
  runtime: ClientRuntime,
): ClientParts {
  const resolved = resolveConfig(partial);
  const wallNow = runtime.wallNow ?? Date.now;
  const monoNow = monotonicNow(runtime.scheduler);
  const errors = new ErrorLog(wallNow);
  // The user's logger, wrapped once: everything below logs through this one, which never
  // throws into the SDK (a failure is counted in metrics().errors).
  const config: ResolvedConfig = Object.freeze({
    ...resolved,
    logger: guardLogger(resolved.logger, (err) => errors.note(err, 'LOGGER')),
  });
  const { logger } = config;
  const noteError = (err: unknown, code: string) => errors.note(err, code);
  const carriedNow = carriedWallClock({ wallNow, monoNow });
  const clock = new HybridLogicalClock(config.agentId, {
    maxSkewMs: config.maxClockSkewMs,
    physicalNow: carriedNow,
  });
  // Some closures below reach parts built after them: none is called during construction.
  const beats = clientBeats(
    config,
    { clock, scheduler: runtime.scheduler, monoNow, carriedNow },
    () => snapshots.refresh(),
  );
  const { engine } = beats;
  const beat$ = engine.beats$;
  const { claims, publisher } = clientClaims(client, config, beat$, {
    tick: () => clock.tick(),
    currentBeat: () => engine.lastBeat,
    assertRunning: (what) => connection.assertRunning(what),
    noteError,
  });
  const stateLog = new StateLog({
    clusterId: config.clusterId,
    logger,
    monoNow,
    server: () => connection.link?.connection?.getServer(),
  });
  const budgets = new ClientBudgets(beat$, () => engine.lastBeat);
  const callbacks = new BeatCallbacks(logger, noteError);
  const connection: ClientConnection = new ClientConnection({
    config,
    monoNow,
    engine,
    intake: beats.intake,
    publisher,
    stateLog,
    noteError,
    refreshHealth: () => snapshots.refresh(),
    onBeatsEnded: () => snapshots.stopLogging(),
    onStopped: () => snapshots.complete(),
  });
  const snapshots: ClientSnapshots = new ClientSnapshots({
    beats,
    beat$,
    publisher,
    claims,
    budgets,
    callbacks,
    errors,
    connection,
    stateLog,
  });
  return {
    config,
    carriedNow,
    engine,
    beat$,
    downbeat$: engine.downbeats$,
    health$: snapshots.health$,
    publisher,
    claims,
    budgets,
    callbacks,
    connection,
    snapshots,
  };
}
