/**
 * The client's public face: each method forwards to one of the parts `client-parts.ts` wires.
 */
import {
  type MonoTypeOperatorFunction,
  type Observable,
  type OperatorFunction,
  type Subscription,
} from 'rxjs';
import type { Beat } from './beats/beat';
import { wireClient, type ClientParts } from './client-parts';
import type { ClientConfig, Config } from './config';
import { ConfigError } from './errors';
import type { ClientRuntime, StopOptions } from './lifecycle/options';
import type { HealthStatus } from './observability/health';
import type { ClientMetrics } from './observability/metrics';
import { emitStatus } from './operators/emit-status';
import type { StatusVerdict } from './operators/verify-status';
import { clientStatusClaims, type StatusClaimsOptions } from './observers/status-claims';
import { beatIndexToLegacy, legacyToBeatIndex } from './protocol/legacy';
import type { StatusClaim, StatusClaimInput } from './protocol/status-claim';

export type { ClientRuntime, StopOptions } from './lifecycle/options';
export type { StatusClaimsOptions } from './observers/status-claims';

/**
 * A BACKBEAT-aware client (README.md, A tour): follows the pulse as `beat$`, keeps time on its own
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

  private readonly parts: ClientParts;
  private warnedLegacyConversion = false;

  /**
   * Use {@link createClient}; the test kit passes `runtime`.
   *
   * @param config A partial config over `defaultConfig()`; throws `ConfigError` when invalid.
   * @param runtime The clocks and scheduler (tests only; the real ones by default).
   * @internal
   */
  constructor(config: Partial<Config>, runtime: ClientRuntime = {}) {
    this.parts = wireClient(this, config, runtime);
    ({ beat$: this.beat$, downbeat$: this.downbeat$, health$: this.health$ } = this.parts);
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
   * @throws ConnectionError when NATS refuses the client (authentication, TLS), or cannot
   * follow the beat on it (e.g. a shared connection already closed); `cause` is nats.js's error.
   * @throws ConfigError when `statusDelivery` is `'jetstream'` and the status stream is missing.
   * @throws ClientStateError after `stop()`.
   */
  start(): Promise<void> {
    return this.parts.connection.start();
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
    return this.parts.connection.stop(options.timeoutMs ?? 5000);
  }

  /**
   * `await using client = createClient(…)` stops it at the end of the scope.
   *
   * @example
   * ```ts
   * await using client = createClient({ clusterId: 'chorus-dev', agentId: 'job-42' });
   * await client.start();
   * ```
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
   * @return The subscription, to unsubscribe.
   */
  onBeat(callback: (beat: Beat) => unknown): Subscription {
    return this.beat$.subscribe((beat) => this.parts.callbacks.run(callback, beat));
  }

  /**
   * As {@link onBeat}, for the first delivered beat of each window (bar).
   *
   * @example
   * ```ts
   * client.onDownbeat((beat) => planBar(beat.window_id));
   * ```
   * @return The subscription, to unsubscribe.
   */
  onDownbeat(callback: (beat: Beat) => unknown): Subscription {
    return this.downbeat$.subscribe((beat) => this.parts.callbacks.run(callback, beat));
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
    return this.parts.claims.emit(input, 'emitStatusClaim');
  }

  /**
   * `emitStatus(client)`: an operator that sends each input as a claim, in order; emits each
   * claim once sent (core) or acknowledged (JetStream).
   *
   * @example
   * ```ts
   * progress$.pipe(map((p) => ({ state: 'executing' as const, beatsLeft: 1, progress: p })), client.emitStatus());
   * ```
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
   */
  withinBeats<T>(beats: number): MonoTypeOperatorFunction<T> {
    return this.parts.budgets.withinBeats(beats);
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
    return this.parts.budgets.withBeatBudget(beats, fn);
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
    const { connection, config, carriedNow } = this.parts;
    return clientStatusClaims(connection, config.clusterId, carriedNow, options);
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
    return this.parts.config.clusterId;
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
    return this.parts.config.agentId;
  }

  /**
   * The last delivered `beat_index`, -1 before any beat.
   *
   * @example
   * ```ts
   * client.getCurrentBeat(); // -1 before any beat
   * ```
   */
  getCurrentBeat(): number {
    return this.parts.engine.lastBeat?.beat_index ?? -1;
  }

  /**
   * The current beat's `window_id`, `''` before any beat.
   *
   * @example
   * ```ts
   * const window = client.getCurrentWindow();
   * ```
   */
  getCurrentWindow(): string {
    return this.parts.engine.lastBeat?.window_id ?? '';
  }

  /**
   * Whether the current beat is in window `windowId`.
   *
   * @example
   * ```ts
   * if (!client.isInWindow(claim.window_id)) console.log('that bar is over');
   * ```
   */
  isInWindow(windowId: string): boolean {
    return windowId !== '' && this.parts.engine.lastBeat?.window_id === windowId;
  }

  /**
   * The beat index of legacy `{ bar, beat }` at the current bar length (docs/protocol.md section 4).
   * Warns once per client: legacy positions are for migration only.
   *
   * @example
   * ```ts
   * client.convertLegacyBeat(3, 2); // 9 with 4 beats a bar
   * ```
   * @param bar The bar, from 1.
   * @param beat The beat in the bar, from 1.
   */
  convertLegacyBeat(bar: number, beat: number): number {
    if (!this.warnedLegacyConversion) {
      this.warnedLegacyConversion = true;
      this.parts.config.logger.warn(
        { bar, beat },
        'backbeat: convertLegacyBeat is for migration; use beat indexes and windows',
      );
    }
    return legacyToBeatIndex(bar, beat, this.parts.engine.state.beatsPerBar);
  }

  /**
   * `{ bar, beat }` of the current beat, null before any beat.
   *
   * @example
   * ```ts
   * client.getLegacyBeatInfo(); // { bar: 3, beat: 2 } at beat 9
   * ```
   */
  getLegacyBeatInfo(): { bar: number; beat: number } | null {
    const current = this.parts.engine.lastBeat;
    return current ? beatIndexToLegacy(current.beat_index, current.beats_per_bar) : null;
  }

  /**
   * A snapshot of the client's health, frozen.
   *
   * @example
   * ```ts
   * const { connected, localDegradation, tempoBpm } = client.health();
   * ```
   */
  health(): HealthStatus {
    return this.parts.snapshots.health();
  }

  /**
   * A snapshot of the client's counters, as plain numbers (README.md, Operations).
   *
   * @example
   * ```ts
   * console.log(client.metrics().beats.rejected['bad-signature']);
   * ```
   */
  metrics(): ClientMetrics {
    return this.parts.snapshots.metrics();
  }

  /**
   * Resolves when every claim emitted so far is sent (and, with JetStream, acknowledged).
   *
   * @example
   * ```ts
   * await client.emitStatusClaim({ state: 'done', beatsLeft: 0, progress: 1 });
   * await client.flush();
   * ```
   */
  flush(): Promise<void> {
    return this.parts.publisher.flush();
  }
}

/**
 * Creates a client. Nothing is dialled until `start()`.
 *
 * @example
 * const client = createClient({ clusterId: 'chorus-dev', agentId: 'my-service', signingKey });
 * client.beat$.subscribe((beat) => console.log(beat.beat_index, beat.phase));
 * await client.start();
 * await client.emitStatusClaim({ state: 'executing', beatsLeft: 5, progress: 0.3 });
 * await client.stop();
 * @param config The fields of the README's configuration table; `clusterId` and `agentId` are required.
 * @return A client, not yet started.
 * @throws ConfigError naming the field when a value is invalid.
 */
export function createClient(config: ClientConfig): BackbeatClient {
  if (typeof config !== 'object' || config === null) {
    throw new ConfigError('config', 'must be an object');
  }
  return new BackbeatClient(config);
}
