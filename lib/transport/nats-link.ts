import {
  Events,
  DebugEvents,
  type ConnectionOptions,
  type NatsConnection,
  type NatsError,
  type Status,
} from 'nats';
import { Subject, type Observable } from 'rxjs';
import { ConnectionError } from '../errors';
import type { Logger } from '../observability/logger';
import { describeError } from '../observability/logger';
import { Backoff } from './backoff';
import { abortConnection, connectNats } from './dial';

/** Settings of a {@link NatsLink}; the client passes its resolved config. */
export interface NatsLinkOptions {
  servers: string[];
  connectTimeoutMs: number;
  reconnectDelayMs: number;
  maxReconnectDelayMs: number;
  /** Dial attempts per server before giving up, the first dial's included; -1: forever. */
  maxReconnects: number;
  /** nats.js's `pingInterval`: a silent link is declared dead after `maxPingsOut` unanswered. */
  pingIntervalMs: number;
  /** nats.js's `maxPingOut`. */
  maxPingsOut: number;
  natsOptions: ConnectionOptions;
  logger: Logger;
  /** For tests of the jitter; `Math.random` by default. */
  random?: () => number;
}

/** What happens to the link, in order. */
export type LinkEvent =
  | { type: 'connected'; connection: NatsConnection }
  /** The link went down; `silent`: declared dead because the server answered no ping. */
  | { type: 'disconnected'; silent: boolean }
  | { type: 'reconnected' }
  /** A reconnect the server refused (authorization): nats.js keeps trying. */
  | { type: 'refused'; reason: string }
  | { type: 'permission-error'; subject: string; operation: string; error: Error }
  /** nats.js gave up (or the first dial did): the link stays down until stopped. */
  | { type: 'gave-up'; reason: string };

/** The first open's outcome: `'closed'` when the link was closed before either. */
export type OpenOutcome = 'connected' | 'unreachable' | 'closed';

/**
 * One NATS connection and its life: the SDK owns the first dial (each try limited by
 * `connectTimeoutMs`, retried with the backoff until connected or closed, so a caller never
 * waits on an unreachable server), then nats.js reconnects by itself with a backoff
 * `min(reconnectDelayMs · 2^k, maxReconnectDelayMs)` ±20 %, where k counts the dials since the
 * disconnect (from nats.js's `reconnecting` events, never from calls of the handler).
 *
 * A shared connection ({@link NatsLink.shared}) is watched, never dialled or closed.
 */
export class NatsLink {
  private readonly eventsSubject = new Subject<LinkEvent>();
  /** The link's events; completes when the link is closed. */
  readonly events$: Observable<LinkEvent> = this.eventsSubject.asObservable();

  private nc: NatsConnection | null = null;
  /** A shared connection not adopted yet: {@link open} adopts it, once events$ has listeners. */
  private sharedConnection: NatsConnection | null = null;
  private statusFeed: AsyncIterable<Status> | null = null;
  private up = false;
  private closing = false;
  private reconnectCount = 0;
  private dialsSinceDisconnect = 0;
  private lastFailure: string | null = null;
  private faultCount = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private wakeRetry: (() => void) | null = null;
  /** Abandons the dial in progress at close(). */
  private readonly dialAbort = new AbortController();
  /** Settles a pending `open()`: `close()` ends it at once. */
  private settleOpen: ((outcome: OpenOutcome) => void) | null = null;
  private readonly backoff: Backoff;

  private constructor(
    private readonly options: NatsLinkOptions | null,
    private readonly owned: boolean,
  ) {
    this.backoff = new Backoff(
      options?.reconnectDelayMs ?? 0,
      options?.maxReconnectDelayMs ?? 0,
      options?.random,
    );
  }

  /** A link that dials `options.servers` itself. */
  static dial(options: NatsLinkOptions): NatsLink {
    return new NatsLink(options, true);
  }

  /**
   * A link over a connection someone else opened and will close; {@link open} adopts it (its
   * `connected` event then reaches the listeners of `events$`).
   */
  static shared(connection: NatsConnection): NatsLink {
    const link = new NatsLink(null, false);
    link.sharedConnection = connection;
    return link;
  }

  /** The connection, once one was made. */
  get connection(): NatsConnection | null {
    return this.nc;
  }

  /**
   * Whether the connection is up now: the one source of connection state for the client and
   * its publisher, kept from the connection's own status events (and, for a shared connection,
   * read from it when adopted).
   */
  get connected(): boolean {
    return this.up && this.nc !== null && !this.nc.isClosed();
  }

  /** Reconnections so far. */
  get reconnects(): number {
    return this.reconnectCount;
  }

  /** Failures of the bodies nats.js runs, caught and counted (metrics().errors). */
  get faults(): number {
    return this.faultCount;
  }

  /** Why the link is down for good, or null. */
  get failure(): string | null {
    return this.lastFailure;
  }

  /**
   * Dial until connected or closed. Resolves `'connected'`, or `'unreachable'` once the first
   * try failed or `connectTimeoutMs` passed (dialling goes on in the background), or `'closed'`
   * when `close()` comes first; rejects with `ConnectionError` when the server refuses the
   * client (authentication, authorization, TLS).
   */
  open(): Promise<OpenOutcome> {
    const options = this.options;
    if (this.sharedConnection && !this.nc && !this.closing) this.adopt(this.sharedConnection);
    if (!options || this.nc) return Promise.resolve('connected');
    return new Promise<OpenOutcome>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: OpenOutcome | ConnectionError) => {
        if (settled) return;
        settled = true;
        this.settleOpen = null;
        clearTimeout(deadline);
        if (outcome instanceof ConnectionError) reject(outcome);
        else resolve(outcome);
      };
      const deadline = setTimeout(() => settle('unreachable'), options.connectTimeoutMs);
      this.settleOpen = settle;
      this.dialLoop(options, settle).catch((error: unknown) => {
        this.fault(error, 'dial loop');
        settle('unreachable');
      });
    });
  }

  /**
   * The first dial, retried until connected, refused or closed. nats.js's own retry of a first
   * dial (`waitOnFirstConnect`, 2.29.3) cannot be abandoned: its promise settles only once
   * connected (it ignores `maxReconnectAttempts`), and no handle exists to close before then.
   * Measured with bench/first-dial-stop.ts, stopping 500 ms into a dial: with this loop, stop()
   * returns in under 1 ms, no dial follows, and the process exits by itself 1–11 ms later; with
   * `waitOnFirstConnect`, the first dial had not settled 10 s after (a stop() awaiting it would
   * hang), nats.js dialled 5 more times against a silent host (6 sockets left open there) and ~60
   * times against a refusing one, and the process never exited.
   */
  private async dialLoop(
    options: NatsLinkOptions,
    settle: (outcome: OpenOutcome | ConnectionError) => void,
  ): Promise<void> {
    for (let attempt = 0; !this.closing; attempt++) {
      try {
        const nc = await connectNats(
          {
            ...options.natsOptions,
            servers: options.servers,
            timeout: options.connectTimeoutMs,
            reconnect: true,
            maxReconnectAttempts: options.maxReconnects,
            reconnectTimeWait: options.reconnectDelayMs,
            reconnectDelayHandler: () => this.reconnectDelayMs(),
            waitOnFirstConnect: false,
            pingInterval: options.pingIntervalMs,
            maxPingOut: options.maxPingsOut,
            // nats.js closes for good on a second authorization error in a row; the SDK retries
            // it like any other failure, under maxReconnects (a server's auth may be fixed).
            ignoreAuthErrorAbort: true,
          },
          this.dialAbort.signal,
        );
        if (this.closing) {
          await nc.close().catch(() => undefined);
          return;
        }
        this.adopt(nc);
        settle('connected');
        return;
      } catch (err) {
        const error = err as Error;
        if (this.closing) return;
        if (isRefusal(error)) {
          const refusal = new ConnectionError(`NATS refused the client: ${error.message}`, {
            cause: error,
          });
          this.giveUp(refusal.message);
          settle(refusal);
          return;
        }
        settle('unreachable');
        options.logger.debug({ err: error.message, attempt }, 'backbeat: NATS dial failed');
        if (options.maxReconnects !== -1 && attempt + 1 >= options.maxReconnects) {
          this.giveUp(`no NATS server answered after ${attempt + 1} dials: ${error.message}`);
          return;
        }
        await this.pause(this.backoff.delayMs(attempt));
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeRetry = resolve;
      this.retryTimer = setTimeout(resolve, ms);
    });
  }

  /** nats.js's `reconnectDelayHandler`: the wait after the dials made since the disconnect. */
  private reconnectDelayMs(): number {
    return this.backoff.delayMs(Math.max(0, this.dialsSinceDisconnect - 1));
  }

  private adopt(nc: NatsConnection): void {
    this.nc = nc;
    // A shared connection may be mid-reconnect: ask it (nats.js keeps the state on its protocol
    // handler; the public API has only isClosed()).
    const protocol = (nc as { protocol?: { connected?: unknown } }).protocol;
    this.up =
      !nc.isClosed() && (typeof protocol?.connected === 'boolean' ? protocol.connected : true);
    this.eventsSubject.next({ type: 'connected', connection: nc });
    const feed = nc.status();
    this.statusFeed = feed;
    this.watchStatus(feed).catch((error: unknown) => this.fault(error, 'status feed'));
    nc.closed()
      .then((err) => {
        this.up = false;
        if (!this.closing) {
          this.giveUp(err ? `NATS connection closed: ${err.message}` : 'NATS connection closed');
        }
      })
      .catch((error: unknown) => this.fault(error, 'connection closed'));
  }

  private async watchStatus(feed: AsyncIterable<Status>): Promise<void> {
    for await (const status of feed) {
      switch (status.type) {
        case DebugEvents.StaleConnection:
        case Events.Disconnect:
          // A refused dial is a disconnect too: report the link going down once.
          if (!this.up) break;
          this.up = false;
          this.dialsSinceDisconnect = 0;
          this.eventsSubject.next({
            type: 'disconnected',
            silent: status.type === DebugEvents.StaleConnection,
          });
          break;
        case DebugEvents.Reconnecting:
          this.dialsSinceDisconnect++;
          break;
        case Events.Reconnect:
          // nats.js reports one reconnect per disconnect it saw during the outage (each refused
          // dial is one): count the link coming back once.
          if (this.up) break;
          this.up = true;
          this.reconnectCount++;
          this.dialsSinceDisconnect = 0;
          this.backoff.reset();
          this.eventsSubject.next({ type: 'reconnected' });
          break;
        case Events.Error: {
          const code = typeof status.data === 'string' ? status.data : '';
          // AUTHORIZATION_VIOLATION, AUTHENTICATION_EXPIRED…: nats.js disconnects and redials.
          if (/^AUTH/i.test(code)) {
            this.eventsSubject.next({
              type: 'refused',
              reason: `NATS refused the reconnect: ${code}`,
            });
          }
          const context = (status as { permissionContext?: { subject: string; operation: string } })
            .permissionContext;
          if (context) {
            this.eventsSubject.next({
              type: 'permission-error',
              subject: context.subject,
              operation: context.operation,
              error: new Error(`permissions violation: ${context.operation} to ${context.subject}`),
            });
          }
          break;
        }
        default:
          break;
      }
    }
  }

  /**
   * A body nats.js runs (the dial loop, the status feed) failed: counted and logged, never left
   * as an unhandled rejection that would end the process.
   */
  private fault(error: unknown, where: string): void {
    this.faultCount++;
    this.options?.logger.error(
      { err: describeError(error), where },
      'backbeat: internal fault in the NATS link; carrying on',
    );
  }

  private giveUp(reason: string): void {
    this.lastFailure = reason;
    this.up = false;
    this.eventsSubject.next({ type: 'gave-up', reason });
  }

  /**
   * Stop dialling and close the connection if this link opened it: drained first (what was
   * handed to nats.js is sent) when `flushed` and up, within `timeoutMs`; otherwise, or once the
   * time is up, closed at once with its socket reset, so that nothing still unsent is delivered
   * later. A shared connection stays open. Resolves within `timeoutMs` plus a few ms.
   */
  async close(timeoutMs = 0, flushed = true): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.settleOpen?.('closed');
    this.dialAbort.abort();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.wakeRetry?.();
    // nats.js status feeds are QueuedIterators: stop() ends them (a shared connection lives on).
    (this.statusFeed as { stop?: () => void } | null)?.stop?.();
    this.statusFeed = null;
    const nc = this.nc;
    if (this.owned && nc && !nc.isClosed()) {
      let drained = false;
      if (flushed && this.connected && timeoutMs > 0) {
        let timer: NodeJS.Timeout | undefined;
        drained = await Promise.race([
          nc.drain().then(
            () => true,
            () => false,
          ),
          new Promise<false>((resolve) => {
            timer = setTimeout(() => resolve(false), timeoutMs);
          }),
        ]);
        clearTimeout(timer);
      }
      if (!drained) await abortConnection(nc);
    }
    this.up = false;
    this.eventsSubject.complete();
  }
}

/** Whether a dial error is a refusal that retrying cannot cure. */
function isRefusal(err: Error): boolean {
  const natsError = err as Partial<NatsError> & { code?: string };
  if (typeof natsError.isAuthError === 'function' && natsError.isAuthError()) return true;
  const code = String(natsError.code ?? '');
  return (
    code === 'TLS' ||
    code.startsWith('ERR_TLS') ||
    code.startsWith('ERR_SSL') ||
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/.test(code)
  );
}
