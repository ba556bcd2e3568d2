/**
 * A client's connection and lifecycle: `start()` dials (or adopts a shared connection),
 * follows the link's events, subscribes to the beat on each connection, checks the JetStream
 * status stream, and `stop()` takes it all down in order.
 */
import type { NatsConnection, NatsError, Subscription as NatsSubscription } from 'nats';
import { firstValueFrom, Subject, type Observable, type Subscription } from 'rxjs';
import type { BeatEngine } from '../beats/engine';
import type { FrameIntake } from '../beats/frame-intake';
import type { ResolvedConfig } from '../config';
import { BackbeatError, ClientStateError, ConfigError, ConnectionError } from '../errors';
import { describeError } from '../observability/logger';
import type { StateLog } from '../observability/state-log';
import { beatSubject } from '../protocol/subjects';
import { checkStatusStream } from '../transport/ensure-status-stream';
import { NatsLink, type LinkEvent } from '../transport/nats-link';
import type { StatusPublisher } from '../transport/status-publisher';

type Lifecycle = 'created' | 'running' | 'stopped';

/** What the connection needs of its client. */
export interface ClientConnectionParts {
  readonly config: ResolvedConfig;
  readonly monoNow: () => number;
  readonly engine: BeatEngine;
  readonly intake: FrameIntake;
  readonly publisher: StatusPublisher;
  readonly stateLog: StateLog;
  /** Counts an error the client survived. */
  readonly noteError: (err: unknown, fallbackCode: string) => void;
  /** Called after each change the health may report. */
  readonly refreshHealth: () => void;
  /** Called once stop() has ended the beats, before the claims drain. */
  readonly onBeatsEnded: () => void;
  /** Called last in stop(). */
  readonly onStopped: () => void;
}

/** The client's connection and lifecycle; the client only forwards to it. */
export class ClientConnection {
  /** The link, from `start()` on. */
  link: NatsLink | null = null;
  /** Why the client is not following the pulse, when the link alone does not say. */
  reason: string | null = null;
  /** Why the server refused the last reconnect, until one succeeds. */
  private refusedReason: string | null = null;
  /** Emits once when `stop()` begins: what the client opened for users ends with it. */
  readonly stopping$: Observable<void>;

  private readonly stopping = new Subject<void>();
  private readonly connections = new Subject<NatsConnection>();
  private lifecycle: Lifecycle = 'created';
  private beatSubscription: NatsSubscription | null = null;
  private linkEvents: Subscription | null = null;
  private connectedSince: number | null = null;
  private connectedTotalMs = 0;
  /** A JetStream status stream found missing on a connect after start(): the cause claims report. */
  private streamMissing: ConfigError | null = null;
  private startPromise: Promise<void> | null = null;
  private stopPromise: Promise<{ dropped: number }> | null = null;
  /** The first dial is in progress (start() has not settled it yet). */
  private opening = false;

  constructor(private readonly parts: ClientConnectionParts) {
    this.stopping$ = this.stopping.asObservable();
  }

  /** Time connected since start, ms. */
  get connectedTimeMs(): number {
    const now = this.connectedSince === null ? 0 : this.parts.monoNow() - this.connectedSince;
    return this.connectedTotalMs + now;
  }

  /** The current connection, or the next one (rejects when the client stops first). */
  nextConnection(): NatsConnection | Promise<NatsConnection> {
    return (
      this.link?.connection ??
      firstValueFrom(this.connections).catch((err: unknown) => {
        // The cause when there is one (a status stream found missing), not a made-up one.
        if (err instanceof ConfigError) throw err;
        throw new ClientStateError('the client stopped before it connected');
      })
    );
  }

  start(): Promise<void> {
    if (this.lifecycle === 'stopped') {
      return Promise.reject(new ClientStateError('start() after stop(): create a new client'));
    }
    this.startPromise ??= this.run().catch(async (err: unknown) => {
      await this.stop(0);
      // nats.js's own errors (a shared connection already closed…) keep their cause.
      throw err instanceof BackbeatError
        ? err
        : new ConnectionError(`cannot follow the beat: ${describeError(err)}`, { cause: err });
    });
    return this.startPromise;
  }

  stop(timeoutMs: number): Promise<{ dropped: number }> {
    this.stopPromise ??= this.shutdown(timeoutMs);
    return this.stopPromise;
  }

  assertNotStopped(what: string): void {
    if (this.lifecycle === 'stopped') throw new ClientStateError(`${what} after stop()`);
  }

  assertRunning(what: string): void {
    if (this.lifecycle === 'created') throw new ClientStateError(`${what} before start()`);
    if (this.lifecycle === 'stopped') throw new ClientStateError(`${what} after stop()`);
  }

  private async run(): Promise<void> {
    const { config, engine } = this.parts;
    this.lifecycle = 'running';
    this.parts.stateLog.started();
    engine.start();
    const { connection } = config;
    if (connection) {
      this.link = NatsLink.shared(connection);
    } else {
      this.link = NatsLink.dial({
        servers: [...config.natsUrl],
        connectTimeoutMs: config.connectTimeoutMs,
        reconnectDelayMs: config.reconnectDelayMs,
        maxReconnectDelayMs: config.maxReconnectDelayMs,
        maxReconnects: config.maxReconnects,
        pingIntervalMs: config.pingIntervalMs,
        maxPingsOut: config.maxPingsOut,
        natsOptions: config.natsOptions,
        logger: config.logger,
      });
    }
    const firstConnection = firstValueFrom(this.connections);
    // Awaited only when the first dial connects; stop() completes `connections` otherwise.
    firstConnection.catch(() => undefined);
    this.linkEvents = this.link.events$.subscribe((event) => this.onLinkEvent(event));
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
      engine.markUnreachable();
      this.parts.refreshHealth();
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
    const { config, publisher, noteError } = this.parts;
    switch (event.type) {
      case 'connected':
        this.refusedReason = null;
        this.reason = this.streamMissing?.message ?? null;
        this.connectedSince = this.parts.monoNow();
        void this.attach(event.connection).then(
          () => this.connections.next(event.connection),
          (err: unknown) => {
            // start() rejects with it when it is still waiting; otherwise it is only logged.
            noteError(err, 'ATTACH');
            if (err instanceof ConfigError && err.field === 'statusDelivery') {
              this.parts.stateLog.statusStreamMissing(err.message);
            } else {
              config.logger.error(
                { err: describeError(err) },
                'backbeat: cannot follow the beat on the new connection',
              );
            }
            this.connections.error(err);
          },
        );
        break;
      case 'disconnected':
        publisher.connectionDown();
        this.addConnectedTime();
        // A refusal comes just before its disconnect: its reason is the one the user can act on.
        this.reason =
          this.refusedReason ??
          (event.silent
            ? `NATS link silent: no answer to ${config.maxPingsOut} pings; reconnecting`
            : 'NATS disconnected: reconnecting');
        break;
      case 'reconnected':
        this.refusedReason = null;
        this.reason = this.streamMissing?.message ?? null;
        this.connectedSince = this.parts.monoNow();
        publisher.connectionUp();
        void this.checkStreamAgain(this.link?.connection ?? null);
        break;
      case 'refused':
        noteError(event.reason, 'NATS_REFUSED');
        this.refusedReason = event.reason;
        this.reason = event.reason;
        config.logger.warn({ reason: event.reason }, 'backbeat: NATS refused the reconnect');
        break;
      case 'permission-error':
        noteError(event.error, 'NATS_PERMISSION');
        config.logger.error(
          { subject: event.subject, operation: event.operation },
          'backbeat: NATS permissions violation',
        );
        break;
      case 'gave-up':
        publisher.connectionDown();
        this.addConnectedTime();
        noteError(event.reason, 'NATS_GAVE_UP');
        this.reason = event.reason;
        // During the first dial, start() decides: degraded when unreachable, stopped when refused.
        if (!this.opening) this.parts.engine.markUnreachable();
        config.logger.error({ reason: event.reason }, 'backbeat: NATS gave up');
        break;
    }
    this.parts.refreshHealth();
  }

  private async attach(nc: NatsConnection): Promise<void> {
    const { config, publisher } = this.parts;
    this.beatSubscription = nc.subscribe(beatSubject(config.clusterId), {
      // nats.js calls this from its socket parser: whatever it throws would stop the reading.
      callback: (err, msg) => {
        try {
          if (err) {
            this.onBeatSubscriptionError(err);
            return;
          }
          this.parts.intake.receive(msg.data, msg.headers);
          this.parts.refreshHealth();
        } catch (error) {
          this.internalFault(error, 'beat subscription');
        }
      },
    });
    publisher.attach(nc);
    if (this.link?.connected) publisher.connectionUp();
    else publisher.connectionDown();
    // A shared connection may be mid-reconnect: nats.js registers the subscription when it is back.
    if (this.link?.connected) await nc.flush();
    if (config.statusDelivery === 'jetstream') {
      try {
        await checkStatusStream(nc, config.clusterId);
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
    this.parts.publisher.refuse(err);
    this.parts.refreshHealth();
  }

  /** After a reconnect, a stream found missing earlier may exist now (or the reverse). */
  private async checkStreamAgain(nc: NatsConnection | null): Promise<void> {
    if (this.parts.config.statusDelivery !== 'jetstream' || nc === null) return;
    try {
      await checkStatusStream(nc, this.parts.config.clusterId);
      if (this.streamMissing !== null) {
        this.streamMissing = null;
        this.parts.publisher.refuse(null);
        if (this.link?.connected) this.reason = null;
        this.parts.refreshHealth();
      }
    } catch (err) {
      if (!(err instanceof ConfigError)) return;
      if (this.streamMissing === null) this.parts.stateLog.statusStreamMissing(err.message);
      this.noteStreamMissing(err);
    }
  }

  private onBeatSubscriptionError(err: NatsError): void {
    this.parts.noteError(err, 'BEAT_SUBSCRIPTION');
    this.reason = `cannot subscribe to the beat subject: ${err.message}`;
    this.parts.config.logger.error({ err: err.message }, 'backbeat: beat subscription refused');
    this.parts.engine.markUnreachable();
    this.parts.refreshHealth();
  }

  /** A body nats.js calls failed: counted and logged, never thrown back into nats.js. */
  private internalFault(error: unknown, where: string): void {
    this.parts.noteError(error, 'INTERNAL');
    this.parts.config.logger.error(
      { err: describeError(error), where },
      'backbeat: internal fault; carrying on',
    );
  }

  private addConnectedTime(): void {
    if (this.connectedSince !== null) {
      this.connectedTotalMs += this.parts.monoNow() - this.connectedSince;
      this.connectedSince = null;
    }
  }

  private async shutdown(timeoutMs: number): Promise<{ dropped: number }> {
    this.lifecycle = 'stopped';
    this.stopping.next();
    this.stopping.complete();
    // Beats end at once (budgets error, timers go); claims then drain within the limit.
    this.beatSubscription?.unsubscribe();
    this.parts.engine.stop();
    this.linkEvents?.unsubscribe();
    this.parts.onBeatsEnded();
    // One deadline for the whole stop, whatever the network does: the link closes abortively
    // once it is up (claims it could not flush are counted in `dropped`, and never sent later).
    const deadline = performance.now() + Math.max(0, timeoutMs);
    const { dropped, flushed } = await this.parts.publisher.drain(timeoutMs);
    this.addConnectedTime();
    await this.link?.close(Math.max(0, deadline - performance.now()), flushed);
    this.connections.complete();
    this.parts.onStopped();
    return { dropped };
  }
}
