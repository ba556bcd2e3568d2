/**
 * The client: wires the parts together and runs their lifecycle. Data flows one way:
 * NATS bytes → the frame judge → the beat engine → `beat$` → subscribers, budgets, claims.
 */
import type { NatsConnection, NatsError, Subscription as NatsSubscription } from 'nats';
import {
  defer,
  firstValueFrom,
  lastValueFrom,
  Subject,
  startWith,
  takeUntil,
  tap,
  type MonoTypeOperatorFunction,
  type Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { FrameIntake } from './beats/frame-intake';
import { BeatEngine } from './beats/engine';
import type { Beat } from './beats/beat';
import {
  registerCountedBeatSource,
  registerSharedBeatSource,
  SharedBudgetIndex,
} from './beats/budget-index';
import { ClaimFlow, registerClaimFlow } from './claims/claim-flow';
import { carriedWallClock } from './clock/carried-wall-clock';
import { HybridLogicalClock } from './clock/hlc';
import { monotonicNow } from './clock/monotonic-now';
import { resolveConfig, type ClientConfig, type Config, type ResolvedConfig } from './config';
import {
  BackbeatError,
  BeatBudgetExceededError,
  BeatSourceClosedError,
  ClientStateError,
  ConfigError,
  ConnectionError,
} from './errors';
import { healthChanged, type HealthStatus } from './observability/health';
import { describeError, guardLogger } from './observability/logger';
import type { ClientMetrics, LastError } from './observability/metrics';
import { StateLog } from './observability/state-log';
import { RecentSummary } from './observability/summary';
import { emitStatus } from './operators/emit-status';
import {
  verifyStatus,
  type StatusVerdict,
  type VerifyStatusOptions,
} from './operators/verify-status';
import { withinBeats } from './operators/within-beats';
import { beatIndexToLegacy, legacyToBeatIndex } from './protocol/legacy';
import type { StatusClaim, StatusClaimInput } from './protocol/status-claim';
import { beatSubject } from './protocol/subjects';
import { isPromiseLike } from './promise-like';
import { statusClaimMessages, type ClaimDelivery } from './transport/claim-messages';
import { checkStatusStream } from './transport/ensure-status-stream';
import { NatsLink, type LinkEvent } from './transport/nats-link';
import { StatusPublisher } from './transport/status-publisher';

/**
 * Options of `client.stop()`.
 *
 * @example
 * ```ts
 * const { dropped } = await client.stop({ timeoutMs: 2000 });
 * ```
 */
export interface StopOptions {
  /** How long to wait for buffered claims to go out. Default 5000 ms. */
  timeoutMs?: number;
}

/**
 * Options of `client.statusClaims$()`: those of `verifyStatus`, and where claims come from.
 *
 * @example
 * ```ts
 * client.statusClaims$({ trustedKeys: { 'agent-a': publicKeyBase64 }, deliver: 'last-per-agent' });
 * ```
 */
export interface StatusClaimsOptions extends VerifyStatusOptions {
  /**
   * `'new'` (default): claims published from now on. `'last-per-agent'`: on a JetStream
   * cluster, first each agent's last stored claim, then new ones.
   */
  deliver?: ClaimDelivery;
}

type Lifecycle = 'created' | 'running' | 'stopped';

/**
 * Where a client's time comes from. The defaults are the real clocks; the test kit
 * (`@chorus-services/backbeat/testing`) passes a `TestScheduler`'s virtual time.
 */
export interface ClientRuntime {
  /** Runs the beat engine's timers. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Monotonic ms. Default `performance.now()` (the scheduler's clock for a virtual one). */
  readonly now?: () => number;
  /**
   * Wall clock, ms since the epoch: `receivedAtMs`, drift, and (as `now` carries it) HLC stamps.
   * Default `Date.now`.
   */
  readonly wallNow?: () => number;
}

/**
 * A BACKBEAT-aware client (API.md, Client): follows the pulse as `beat$`, keeps time on its own
 * when the pulse is silent, runs work under beat budgets and sends signed status claims.
 * Create it with {@link createClient}.
 *
 * @example
 * ```ts
 * const client = createClient({ clusterId: 'chorus-dev', agentId: 'my-service', signingKey });
 * client.onBeat((beat) => console.log(beat.beat_index, beat.phase));
 * await client.start();
 * await client.emitStatusClaim({ state: 'executing', beatsLeft: 5, progress: 0.3 });
 * await client.stop();
 * ```
 */
export class BackbeatClient implements AsyncDisposable {
  /**
   * Every delivered beat: hot from `start()` to `stop()` whatever the number of subscribers, no
   * replay; subscribing before `start()` is fine.
   */
  readonly beat$: Observable<Beat>;
  /** The first delivered beat of each window. */
  readonly downbeat$: Observable<Beat>;
  /**
   * The current health, then each change of `connected`, `localDegradation`, `reconnectCount`
   * or `tempoBpm`; completes at `stop()`.
   */
  readonly health$: Observable<HealthStatus>;

  private readonly config: ResolvedConfig;
  private readonly wallNow: () => number;
  private readonly monoNow: () => number;
  /** The HLC's `pt`: the wall clock as the monotonic clock carries it. */
  private readonly carriedNow: () => number;
  private readonly clock: HybridLogicalClock;
  private readonly engine: BeatEngine;
  private readonly intake: FrameIntake;
  private readonly publisher: StatusPublisher;
  private readonly budgets: SharedBudgetIndex;
  private readonly claims: ClaimFlow;
  private readonly internal: Subscription[] = [];
  private readonly healthChanges = new Subject<HealthStatus>();
  private readonly connections = new Subject<NatsConnection>();
  /** Emits once when `stop()` begins: what the client opened for users ends with it. */
  private readonly stopping = new Subject<void>();
  private readonly callbackLatency = new RecentSummary();
  private readonly counts = {
    callbackErrors: 0,
    budgetsCreated: 0,
    budgetsCompleted: 0,
    budgetsTimedOut: 0,
    errors: 0,
  };
  private lastError: LastError | null = null;
  private readonly stateLog: StateLog;
  private lifecycle: Lifecycle = 'created';
  private link: NatsLink | null = null;
  private beatSubscription: NatsSubscription | null = null;
  private lastHealth: HealthStatus;
  private reason: string | null = null;
  private connectedSince: number | null = null;
  private connectedTotalMs = 0;
  /** A JetStream status stream found missing on a connect after start(): the cause claims report. */
  private streamMissing: ConfigError | null = null;
  private startPromise: Promise<void> | null = null;
  private stopPromise: Promise<{ dropped: number }> | null = null;
  private warnedLegacyConversion = false;
  /** The first dial is in progress (start() has not settled it yet). */
  private opening = false;

  /**
   * Use {@link createClient}; the test kit passes `runtime`.
   *
   * @param config A partial config over `defaultConfig()`; throws `ConfigError` when invalid.
   * @param runtime The clocks and scheduler (tests only; the real ones by default).
   * @internal
   */
  constructor(config: Partial<Config>, runtime: ClientRuntime = {}) {
    const resolved = resolveConfig(config);
    // The user's logger, wrapped once: everything below logs through this one, which never
    // throws into the SDK (a failure is counted in metrics().errors).
    this.config = Object.freeze({
      ...resolved,
      logger: guardLogger(resolved.logger, (err) => this.noteError(err, 'LOGGER')),
    });
    const { clusterId, agentId, logger } = this.config;
    this.wallNow = runtime.wallNow ?? Date.now;
    this.monoNow = runtime.now ?? monotonicNow(runtime.scheduler);
    this.carriedNow = carriedWallClock({ wallNow: this.wallNow, monoNow: this.monoNow });
    this.clock = new HybridLogicalClock(agentId, {
      maxSkewMs: this.config.maxClockSkewMs,
      physicalNow: this.carriedNow,
    });
    this.budgets = new SharedBudgetIndex();
    this.engine = new BeatEngine({
      clusterId,
      agentId,
      jitterToleranceMs: this.config.jitterToleranceMs,
      beatsPerBar: this.config.beatsPerBar,
      fallbackTempoBpm: this.config.fallbackTempoBpm,
      clock: this.clock,
      scheduler: runtime.scheduler,
      now: this.monoNow,
      // Frames' lateness (staleness, timeDriftMs) is read against the carried wall clock, so a
      // local wall-clock step undone within a minute does not make fresh frames look stale.
      wallNow: this.carriedNow,
      // Plain calls, not subscriptions: the budgets see each beat before any user does, and the
      // health refresh waits until every user has had it.
      leadObserver: this.budgets,
      afterDelivery: () => this.refreshHealth(),
    });
    this.intake = new FrameIntake(
      this.engine,
      {
        clusterId,
        acceptLegacyFrames: this.config.acceptLegacyFrames,
        trustedPulseKeys: this.config.trustedPulseKeys,
        maxClockSkewMs: this.config.maxClockSkewMs,
        physicalNow: this.carriedNow,
        legacy: () => {
          const { beatsPerBar, tempoBpm } = this.engine.state;
          return { beatsPerBar, tempoBpm, hlc: this.clock.tick() };
        },
      },
      logger,
    );
    this.publisher = new StatusPublisher({
      delivery: this.config.statusDelivery,
      bufferSize: this.config.statusBufferSize,
      logger,
      // The link is the one source of connection state: onLinkEvent tells the publisher.
      followStatus: false,
    });
    this.beat$ = this.engine.beats$;
    this.downbeat$ = this.engine.downbeats$;
    this.claims = new ClaimFlow({
      clusterId,
      agentId,
      signingKey: this.config.signingKey,
      bufferSize: this.config.statusBufferSize,
      tick: () => this.clock.tick(),
      currentBeat: () => this.engine.lastBeat,
      beat$: this.beat$,
      publisher: this.publisher,
      assertRunning: (what) => this.assertRunning(what),
      logger,
      onInvalid: (err) => this.noteError(err, 'STATUS_CLAIM_INVALID'),
    });
    registerClaimFlow(this, this.claims);
    registerSharedBeatSource(this.beat$, this.budgets);
    this.stateLog = new StateLog({
      clusterId,
      logger,
      wallNow: this.wallNow,
      server: () => this.link?.connection?.getServer(),
    });
    registerCountedBeatSource(this.downbeat$, this.budgets);
    this.lastHealth = this.health();
    this.health$ = defer(() => this.healthChanges.pipe(startWith(this.health())));
    this.internal.push(
      this.healthChanges.subscribe((health) => this.stateLog.health(health)),
      this.beat$.subscribe((beat) => this.stateLog.beat(beat)),
    );
  }

  /**
   * Connects and begins following the beat. Resolves once the beat subscription is registered
   * with the server, or, when NATS cannot be reached, within `connectTimeoutMs`, degraded (it
   * keeps dialling in the background and joins the pulse once the server appears). Calling it
   * again returns the same promise.
   *
   * @example
   * ```ts
   * await client.start();
   * if (client.health().localDegradation) console.warn('no NATS yet: keeping time locally');
   * ```
   * @return Resolves when started (connected or degraded).
   * @throws ConnectionError when NATS refuses the client (authentication, TLS), or cannot
   * follow the beat on it (e.g. a shared connection already closed); `cause` is nats.js's error.
   * @throws ConfigError when `statusDelivery` is `'jetstream'` and the status stream is missing.
   * @throws ClientStateError after `stop()`.
   */
  start(): Promise<void> {
    if (this.lifecycle === 'stopped') {
      return Promise.reject(new ClientStateError('start() after stop(): create a new client'));
    }
    this.startPromise ??= this.run().catch(async (err: unknown) => {
      await this.stop({ timeoutMs: 0 });
      // nats.js's own errors (a shared connection already closed…) keep their cause.
      throw err instanceof BackbeatError
        ? err
        : new ConnectionError(`cannot follow the beat: ${describeError(err)}`, { cause: err });
    });
    return this.startPromise;
  }

  private async run(): Promise<void> {
    this.lifecycle = 'running';
    this.stateLog.started();
    this.engine.start();
    const { connection } = this.config;
    if (connection) {
      this.link = NatsLink.shared(connection);
    } else {
      this.link = NatsLink.dial({
        servers: [...this.config.natsUrl],
        connectTimeoutMs: this.config.connectTimeoutMs,
        reconnectDelayMs: this.config.reconnectDelayMs,
        maxReconnectDelayMs: this.config.maxReconnectDelayMs,
        maxReconnects: this.config.maxReconnects,
        pingIntervalMs: this.config.pingIntervalMs,
        maxPingsOut: this.config.maxPingsOut,
        natsOptions: this.config.natsOptions,
        logger: this.config.logger,
      });
    }
    const firstConnection = firstValueFrom(this.connections);
    // Awaited only when the first dial connects; stop() completes `connections` otherwise.
    firstConnection.catch(() => undefined);
    this.internal.push(this.link.events$.subscribe((event) => this.onLinkEvent(event)));
    // A shared link adopts its connection here, now that its events have a listener.
    this.opening = true;
    const outcome = await this.link.open().finally(() => {
      this.opening = false;
    });
    if (outcome === 'connected') {
      // stop() during the first attach ends start() as stopped, not with an EmptyError.
      await firstConnection.catch((err: unknown) => {
        if (this.lifecycle !== 'stopped') throw err;
      });
    } else if (outcome === 'unreachable') {
      // The link may have given up already (maxReconnects reached): its reason says so.
      this.reason = this.link.failure ?? 'NATS unreachable: dialling in the background';
      this.engine.markUnreachable();
      this.refreshHealth();
    }
  }

  private onLinkEvent(event: LinkEvent): void {
    // Called from nats.js's status feed and dial loop: a throw here would end the process.
    try {
      this.handleLinkEvent(event);
    } catch (error) {
      this.internalFault(error, 'link event');
    }
  }

  private handleLinkEvent(event: LinkEvent): void {
    switch (event.type) {
      case 'connected':
        this.reason = this.streamMissing?.message ?? null;
        this.connectedSince = this.monoNow();
        void this.attach(event.connection).then(
          () => this.connections.next(event.connection),
          (err: unknown) => {
            // start() rejects with it when it is still waiting; otherwise it is only logged.
            this.noteError(err, 'ATTACH');
            if (err instanceof ConfigError && err.field === 'statusDelivery') {
              this.stateLog.statusStreamMissing(err.message);
            } else {
              this.config.logger.error(
                { err: describeError(err) },
                'backbeat: cannot follow the beat on the new connection',
              );
            }
            this.connections.error(err);
          },
        );
        break;
      case 'disconnected':
        this.publisher.connectionDown();
        this.addConnectedTime();
        this.reason = event.silent
          ? `NATS link silent: no answer to ${this.config.maxPingsOut} pings; reconnecting`
          : 'NATS disconnected: reconnecting';
        break;
      case 'reconnected':
        this.reason = this.streamMissing?.message ?? null;
        this.connectedSince = this.monoNow();
        this.publisher.connectionUp();
        void this.checkStreamAgain(this.link?.connection ?? null);
        break;
      case 'refused':
        this.noteError(event.reason, 'NATS_REFUSED');
        this.reason = event.reason;
        this.config.logger.warn({ reason: event.reason }, 'backbeat: NATS refused the reconnect');
        break;
      case 'permission-error':
        this.noteError(event.error, 'NATS_PERMISSION');
        this.config.logger.error(
          { subject: event.subject, operation: event.operation },
          'backbeat: NATS permissions violation',
        );
        break;
      case 'gave-up':
        this.publisher.connectionDown();
        this.addConnectedTime();
        this.noteError(event.reason, 'NATS_GAVE_UP');
        this.reason = event.reason;
        // During the first dial, start() decides: degraded when unreachable, stopped when refused.
        if (!this.opening) this.engine.markUnreachable();
        this.config.logger.error({ reason: event.reason }, 'backbeat: NATS gave up');
        break;
    }
    this.refreshHealth();
  }

  private async attach(nc: NatsConnection): Promise<void> {
    this.beatSubscription = nc.subscribe(beatSubject(this.config.clusterId), {
      // nats.js calls this from its socket parser: whatever it throws would stop the reading.
      callback: (err, msg) => {
        try {
          if (err) {
            this.onBeatSubscriptionError(err);
            return;
          }
          this.intake.receive(msg.data, msg.headers);
          this.refreshHealth();
        } catch (error) {
          this.internalFault(error, 'beat subscription');
        }
      },
    });
    this.publisher.attach(nc);
    if (this.link?.connected) this.publisher.connectionUp();
    else this.publisher.connectionDown();
    // A shared connection may be mid-reconnect: nats.js registers the subscription when it is back.
    if (this.link?.connected) await nc.flush();
    if (this.config.statusDelivery === 'jetstream') {
      try {
        await checkStatusStream(nc, this.config.clusterId);
      } catch (err) {
        // At start() it rejects start(); on a later connect (after a degraded start) the cause
        // stays visible: health().reason, claims and statusClaims$ fail with it.
        if (err instanceof ConfigError && !this.opening) this.noteStreamMissing(err);
        throw err;
      }
    }
  }

  private noteStreamMissing(err: ConfigError): void {
    this.streamMissing = err;
    this.reason = err.message;
    this.publisher.refuse(err);
    this.refreshHealth();
  }

  /** After a reconnect, a stream found missing earlier may exist now (or the reverse). */
  private async checkStreamAgain(nc: NatsConnection | null): Promise<void> {
    if (this.config.statusDelivery !== 'jetstream' || nc === null) return;
    try {
      await checkStatusStream(nc, this.config.clusterId);
      if (this.streamMissing !== null) {
        this.streamMissing = null;
        this.publisher.refuse(null);
        if (this.link?.connected) this.reason = null;
        this.refreshHealth();
      }
    } catch (err) {
      if (!(err instanceof ConfigError)) return;
      if (this.streamMissing === null) this.stateLog.statusStreamMissing(err.message);
      this.noteStreamMissing(err);
    }
  }

  private onBeatSubscriptionError(err: NatsError): void {
    this.noteError(err, 'BEAT_SUBSCRIPTION');
    this.reason = `cannot subscribe to the beat subject: ${err.message}`;
    this.config.logger.error({ err: err.message }, 'backbeat: beat subscription refused');
    this.engine.markUnreachable();
    this.refreshHealth();
  }

  /**
   * Stops: flushes claims within `timeoutMs`, completes `beat$`, `downbeat$`, `health$` and
   * `statusClaims$`, errors pending budgets with `BeatSourceClosedError`, closes the NATS
   * connection it opened (never a shared one). Idempotent: every call returns the same promise.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', () => void client.stop({ timeoutMs: 2000 }));
   * ```
   * @param options `timeoutMs`: how long to wait for buffered claims (default 5000).
   * @return How many claims could not be sent.
   */
  stop(options: StopOptions = {}): Promise<{ dropped: number }> {
    this.stopPromise ??= this.shutdown(options.timeoutMs ?? 5000);
    return this.stopPromise;
  }

  private async shutdown(timeoutMs: number): Promise<{ dropped: number }> {
    this.lifecycle = 'stopped';
    this.stopping.next();
    this.stopping.complete();
    // Beats end at once (budgets error, timers go); claims then drain within the limit.
    this.beatSubscription?.unsubscribe();
    this.engine.stop();
    for (const subscription of this.internal) subscription.unsubscribe();
    // One deadline for the whole stop, whatever the network does: the link closes abortively
    // once it is up (claims it could not flush are counted in `dropped`, and never sent later).
    const deadline = performance.now() + Math.max(0, timeoutMs);
    const { dropped, flushed } = await this.publisher.drain(timeoutMs);
    this.addConnectedTime();
    await this.link?.close(Math.max(0, deadline - performance.now()), flushed);
    this.connections.complete();
    this.healthChanges.complete();
    return { dropped };
  }

  /**
   * `await using client = createClient(…)` stops it at the end of the scope.
   *
   * @example
   * ```ts
   * await using client = createClient({ clusterId: 'chorus-dev', agentId: 'job-42' });
   * await client.start();
   * ```
   * @return Resolves when stopped.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Calls `callback` with each beat. A throwing (or rejecting) callback is logged and counted
   * (`metrics().beats.callbackErrors`) and harms no other subscriber.
   *
   * @example
   * ```ts
   * const subscription = client.onBeat((beat) => scheduler.tick(beat.beat_index));
   * ```
   * @param callback Called with each delivered beat.
   * @return The subscription, to unsubscribe.
   */
  onBeat(callback: (beat: Beat) => unknown): Subscription {
    return this.beat$.subscribe((beat) => this.runCallback(callback, beat));
  }

  /**
   * As {@link onBeat}, for the first delivered beat of each window (bar).
   *
   * @example
   * ```ts
   * client.onDownbeat((beat) => planBar(beat.window_id));
   * ```
   * @param callback Called with each downbeat.
   * @return The subscription, to unsubscribe.
   */
  onDownbeat(callback: (beat: Beat) => unknown): Subscription {
    return this.downbeat$.subscribe((beat) => this.runCallback(callback, beat));
  }

  private runCallback(callback: (beat: Beat) => unknown, beat: Beat): void {
    const started = performance.now();
    try {
      const result = callback(beat);
      if (isPromiseLike(result)) {
        result.then(undefined, (err: unknown) => this.callbackFailed(err, beat));
      }
    } catch (err) {
      this.callbackFailed(err, beat);
    } finally {
      this.callbackLatency.record(performance.now() - started);
    }
  }

  private callbackFailed(err: unknown, beat: Beat): void {
    this.counts.callbackErrors++;
    this.noteError(err, 'BEAT_CALLBACK');
    this.config.logger.error(
      { err: describeError(err), beatIndex: beat.beat_index },
      'backbeat: beat callback threw',
    );
  }

  /** A body nats.js calls failed: counted and logged, never thrown back into nats.js. */
  private internalFault(error: unknown, where: string): void {
    this.noteError(error, 'INTERNAL');
    this.config.logger.error(
      { err: describeError(error), where },
      'backbeat: internal fault; carrying on',
    );
  }

  /**
   * Sends one claim through the claim chain (`validateClaim`, `signClaim`, `publishClaim`):
   * validated, stamped with the beat, window and HLC current now, signed, and published through
   * the bounded buffer. Resolves with the claim as sent (core: handed to NATS, or held in the
   * buffer while disconnected; JetStream: acknowledged). `state`, `beatsLeft` and `progress`
   * are required. A claim emitted before the first beat waits for it.
   *
   * @example
   * ```ts
   * const claim = await client.emitStatusClaim({ state: 'waiting', beatsLeft: 3, progress: 0.5, waitFor: ['db'] });
   * console.log(claim.beat_index, claim.hlc);
   * ```
   * @param input The camelCase claim input; the SDK fills ids, beat, window and HLC.
   * @return The wire claim as sent.
   * @throws StatusClaimValidationError when the input is invalid; nothing is published.
   * @throws ClientStateError before `start()` or after `stop()`.
   * @throws StatusClaimDroppedError when the bounded buffer dropped it before it was sent
   * (JetStream, or while waiting for the first beat).
   */
  emitStatusClaim(input: StatusClaimInput): Promise<StatusClaim> {
    return this.claims.emit(input, 'emitStatusClaim');
  }

  /**
   * `emitStatus(client)`: an operator that sends each input as a claim, in order; emits each
   * claim once sent (core) or acknowledged (JetStream).
   *
   * @example
   * ```ts
   * progress$.pipe(map((p) => ({ state: 'executing' as const, beatsLeft: 1, progress: p })), client.emitStatus());
   * ```
   * @return The operator.
   */
  emitStatus(): OperatorFunction<StatusClaimInput, Readonly<StatusClaim>> {
    return emitStatus(this);
  }

  /**
   * `withinBeats({ beats, beat$: client.beat$, startBeat })`, `startBeat` being the current
   * beat (unset before any beat); counted in `metrics().budgets`.
   *
   * @example
   * ```ts
   * work$.pipe(client.withinBeats(8)).subscribe({ error: (err) => console.warn(err) });
   * ```
   * @param beats The budget, a positive integer.
   * @return The operator.
   */
  withinBeats<T>(beats: number): MonoTypeOperatorFunction<T> {
    return (source) =>
      defer(() => {
        const current = this.engine.state.currentBeat;
        this.counts.budgetsCreated++;
        return source.pipe(
          withinBeats<T>({
            beats,
            beat$: this.beat$,
            ...(current ? { startBeat: current.beat_index } : {}),
          }),
          tap({
            complete: () => this.counts.budgetsCompleted++,
            error: (err: unknown) => {
              if (err instanceof BeatBudgetExceededError) this.counts.budgetsTimedOut++;
            },
          }),
        );
      });
  }

  /**
   * Runs `fn(signal)` under a budget of `beats` beats: resolves with its value, passes its error
   * through; at expiry aborts `signal` (its reason is the error) and rejects with
   * `BeatBudgetExceededError`; `stop()` rejects it with `BeatSourceClosedError`.
   *
   * @example
   * ```ts
   * const page = await client.withBeatBudget(4, (signal) => fetch(url, { signal }));
   * ```
   * @param beats The budget, a positive integer.
   * @param fn The work; it should stop when `signal` aborts.
   * @return `fn`'s value.
   * @throws RangeError (a rejection) when `beats` is not a positive integer.
   */
  withBeatBudget<T>(beats: number, fn: (signal: AbortSignal) => T | PromiseLike<T>): Promise<T> {
    if (!Number.isSafeInteger(beats) || beats < 1) {
      return Promise.reject(
        new RangeError(`withBeatBudget: beats must be a positive integer, got ${String(beats)}`),
      );
    }
    if (typeof fn !== 'function') {
      return Promise.reject(new TypeError('withBeatBudget: fn must be a function'));
    }
    const controller = new AbortController();
    const work$ = defer(() => Promise.resolve(fn(controller.signal)));
    return lastValueFrom(work$.pipe(this.withinBeats(beats))).catch((err: unknown) => {
      if (err instanceof BeatBudgetExceededError || err instanceof BeatSourceClosedError) {
        controller.abort(err);
      }
      throw err;
    });
  }

  /**
   * Claims of every agent of the cluster, each with its verdict (`verifyStatus`). With
   * `deliver: 'last-per-agent'` on a JetStream cluster, first each agent's last stored claim.
   * May be subscribed before `start()` (it waits for the connection); when connected, the NATS
   * subscription exists as soon as `subscribe()` returns. Completes at `stop()`.
   *
   * @example
   * ```ts
   * client.statusClaims$({ trustedKeys: { 'agent-a': publicKeyBase64 } })
   *   .subscribe((verdict) => console.log(verdict.ok ? verdict.claim.state : verdict.reason));
   * ```
   * @param options `verifyStatus` options, and `deliver`. `physicalNow` defaults to the client's
   * own clock: the wall clock as the monotonic clock carries it, which a short step does not move.
   * @return Verdicts, until unsubscribed or `stop()`.
   */
  statusClaims$(options: StatusClaimsOptions = {}): Observable<StatusVerdict> {
    const { deliver = 'new', ...verifyOptions } = options;
    // The client's observer judges by the client's own carried clock unless told otherwise.
    const verify = verifyStatus({ physicalNow: this.carriedNow, ...verifyOptions });
    return defer(() => {
      this.assertNotStopped('statusClaims$');
      const connection =
        this.link?.connection ??
        firstValueFrom(this.connections).catch((err: unknown) => {
          // The cause when there is one (a status stream found missing), not a made-up one.
          if (err instanceof ConfigError) throw err;
          throw new ClientStateError('the client stopped before it connected');
        });
      return statusClaimMessages(connection, this.config.clusterId, deliver);
    }).pipe(takeUntil(this.stopping), verify);
  }

  /**
   * The cluster this client follows.
   *
   * @example
   * ```ts
   * client.clusterId; // 'chorus-dev'
   * ```
   */
  get clusterId(): string {
    return this.config.clusterId;
  }

  /**
   * This agent's id.
   *
   * @example
   * ```ts
   * client.agentId; // 'my-service'
   * ```
   */
  get agentId(): string {
    return this.config.agentId;
  }

  /**
   * The last delivered `beat_index`.
   *
   * @example
   * ```ts
   * client.getCurrentBeat(); // -1 before any beat
   * ```
   * @return The index, -1 before any beat.
   */
  getCurrentBeat(): number {
    return this.engine.lastBeat?.beat_index ?? -1;
  }

  /**
   * The current beat's `window_id`.
   *
   * @example
   * ```ts
   * const window = client.getCurrentWindow();
   * ```
   * @return The window id, `''` before any beat.
   */
  getCurrentWindow(): string {
    return this.engine.state.windowId;
  }

  /**
   * Whether the current beat is in window `windowId`.
   *
   * @example
   * ```ts
   * if (!client.isInWindow(claim.window_id)) console.log('that bar is over');
   * ```
   * @param windowId A window id.
   * @return Whether it is the current window.
   */
  isInWindow(windowId: string): boolean {
    return windowId !== '' && this.engine.state.windowId === windowId;
  }

  /**
   * The beat index of legacy `{ bar, beat }` at the current bar length (PROTOCOL.md section 4).
   * Warns once per client: legacy positions are for migration only.
   *
   * @example
   * ```ts
   * client.convertLegacyBeat(3, 2); // 9 with 4 beats a bar
   * ```
   * @param bar The bar, from 1.
   * @param beat The beat in the bar, from 1.
   * @return The beat index.
   */
  convertLegacyBeat(bar: number, beat: number): number {
    if (!this.warnedLegacyConversion) {
      this.warnedLegacyConversion = true;
      this.config.logger.warn(
        { bar, beat },
        'backbeat: convertLegacyBeat is for migration; use beat indexes and windows',
      );
    }
    return legacyToBeatIndex(bar, beat, this.engine.state.beatsPerBar);
  }

  /**
   * `{ bar, beat }` of the current beat.
   *
   * @example
   * ```ts
   * client.getLegacyBeatInfo(); // { bar: 3, beat: 2 } at beat 9
   * ```
   * @return The legacy position, null before any beat.
   */
  getLegacyBeatInfo(): { bar: number; beat: number } | null {
    const current = this.engine.state.currentBeat;
    return current ? beatIndexToLegacy(current.beat_index, current.beats_per_bar) : null;
  }

  /**
   * A snapshot of the client's health.
   *
   * @example
   * ```ts
   * const { connected, localDegradation, tempoBpm } = client.health();
   * ```
   * @return The current health, frozen.
   */
  health(): HealthStatus {
    const state = this.engine.state;
    return Object.freeze({
      connected: this.link?.connected ?? false,
      lastBeat: state.currentBeat?.beat_index ?? -1,
      lastBeatTime: state.currentBeat ? new Date(state.currentBeat.receivedAtMs) : null,
      timeDriftMs: state.timeDriftMs,
      reconnectCount: this.link?.reconnects ?? 0,
      localDegradation: state.degraded,
      tempoBpm: state.tempoBpm,
      reason:
        this.reason ??
        this.link?.failure ??
        (state.degraded && this.link?.connected ? this.stateLog.silenceReason() : null),
    });
  }

  /** Emits on `health$` when what it reports changes of has changed; cheap when nothing has. */
  private refreshHealth(): void {
    const key = {
      connected: this.link?.connected ?? false,
      localDegradation: this.engine.degraded,
      reconnectCount: this.link?.reconnects ?? 0,
      tempoBpm: this.engine.currentTempoBpm,
    };
    if (!healthChanged(this.lastHealth, key)) return;
    this.lastHealth = this.health();
    this.healthChanges.next(this.lastHealth);
  }

  /**
   * A snapshot of the client's counters, as plain numbers (API.md).
   *
   * @example
   * ```ts
   * console.log(client.metrics().beats.rejected['bad-signature']);
   * ```
   * @return The metrics, grouped.
   */
  metrics(): ClientMetrics {
    const { counters } = this.engine.state;
    const status = this.publisher.metrics();
    const connectedNow = this.connectedSince === null ? 0 : this.monoNow() - this.connectedSince;
    return {
      connection: {
        connected: this.link?.connected ? 1 : 0,
        reconnects: this.link?.reconnects ?? 0,
        connectedTimeMs: this.connectedTotalMs + connectedNow,
      },
      beats: {
        received: this.intake.received,
        delivered: counters.pulseBeats + counters.legacyBeats,
        synthetic: counters.syntheticBeats,
        missed: counters.missed,
        timelineResets: counters.timelineResets,
        behind: counters.behind,
        jitterMs: this.intake.jitterMs.snapshot(),
        callbackLatencyMs: this.callbackLatency.snapshot(),
        callbackErrors: this.counts.callbackErrors,
        rejected: { ...this.intake.rejected },
      },
      status: {
        emitted: status.emitted,
        errors: status.errors,
        buffered: status.buffered + this.claims.buffered,
        dropped: status.dropped + this.claims.dropped,
        retries: status.retries,
      },
      budgets: {
        created: this.counts.budgetsCreated,
        completed: this.counts.budgetsCompleted,
        timedOut: this.counts.budgetsTimedOut,
        pending: this.budgets.size,
      },
      errors: {
        total: this.counts.errors + status.errors + (this.link?.faults ?? 0),
        last: this.lastError,
      },
    };
  }

  /**
   * Resolves when every claim emitted so far is sent (and, with JetStream, acknowledged).
   *
   * @example
   * ```ts
   * await client.emitStatusClaim({ state: 'done', beatsLeft: 0, progress: 1 });
   * await client.flush();
   * ```
   * @return Resolves when flushed.
   */
  flush(): Promise<void> {
    return this.publisher.flush();
  }

  private assertNotStopped(what: string): void {
    if (this.lifecycle === 'stopped') throw new ClientStateError(`${what} after stop()`);
  }

  private assertRunning(what: string): void {
    if (this.lifecycle === 'created') throw new ClientStateError(`${what} before start()`);
    if (this.lifecycle === 'stopped') throw new ClientStateError(`${what} after stop()`);
  }

  private addConnectedTime(): void {
    if (this.connectedSince !== null) {
      this.connectedTotalMs += this.monoNow() - this.connectedSince;
      this.connectedSince = null;
    }
  }

  /** Counts an error the client survived and keeps it as `metrics().errors.last`. */
  private noteError(err: unknown, fallbackCode: string): void {
    this.counts.errors++;
    const code =
      typeof (err as { code?: unknown })?.code === 'string' &&
      (err as { code: string }).code.startsWith('BACKBEAT_')
        ? (err as { code: string }).code
        : `BACKBEAT_${fallbackCode}`;
    const message = err instanceof Error ? err.message : String(err);
    this.lastError = Object.freeze({ atMs: this.wallNow(), code, message });
  }
}

/**
 * Creates a client (API.md). Nothing is dialled until `start()`.
 *
 * @example
 * const client = createClient({ clusterId: 'chorus-dev', agentId: 'my-service', signingKey });
 * client.beat$.subscribe((beat) => console.log(beat.beat_index, beat.phase));
 * await client.start();
 * await client.emitStatusClaim({ state: 'executing', beatsLeft: 5, progress: 0.3 });
 * await client.stop();
 * @param config The fields of API.md's config table; `clusterId` and `agentId` are required.
 * @return A client, not yet started.
 * @throws ConfigError naming the field when a value is invalid.
 */
export function createClient(config: ClientConfig): BackbeatClient {
  if (typeof config !== 'object' || config === null) {
    throw new ConfigError('config', 'must be an object');
  }
  return new BackbeatClient(config);
}
