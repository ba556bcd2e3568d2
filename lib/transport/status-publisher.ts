/**
 * Delivers sealed status claims to NATS, in order, across disconnections (README.md, Delivery guarantees:
 * `statusDelivery`, `statusBufferSize`, `flush`, `stop`).
 *
 * Core delivery is at most once. nats.js v2 silently loses a core publish made while it is
 * disconnected (its outbound buffer is reset on every dial), so claims are handed to nats.js only
 * while the connection is up, straight away; from a disconnect to the reconnect they wait in a
 * bounded buffer of our own and go out in order after it.
 *
 * JetStream delivery is at least once, stored once (jetstream-delivery.ts).
 */
import { firstValueFrom, from, race, Subject } from 'rxjs';
import { DebugEvents, Events, type JetStreamClient, type NatsConnection, type Status } from 'nats';
import type { StatusDelivery } from '../config';
import { silentLogger, type Logger } from '../observability/logger';
import { ClientStateError, ConnectionError, StatusClaimDroppedError } from '../errors';
import { describeError } from '../observability/logger';
import {
  JetStreamDelivery,
  type JetStreamDeliveryHost,
  type OutgoingClaim,
  type PendingClaim,
} from './jetstream-delivery';
import type { JetStreamRetryPolicy } from './jetstream-publish';
import { toMsgHdrs } from './msg-headers';

export { StatusClaimDroppedError, type OutgoingClaim };

/** The part of a pino-compatible logger the publisher uses. */
export type PublisherLogger = Pick<Logger, 'debug' | 'warn'>;

/** Options of {@link StatusPublisher}. */
export interface StatusPublisherOptions {
  /** `'core'`: at most once. `'jetstream'`: at least once, stored once. */
  readonly delivery: StatusDelivery;
  /**
   * Claims held while disconnected (core) or not yet acknowledged (JetStream); beyond it the
   * oldest are dropped and counted.
   */
  readonly bufferSize: number;
  /** Default: silent. */
  readonly logger?: PublisherLogger;
  /** JetStream only: how long to wait for an acknowledgement, and the retry backoff. */
  readonly jetstream?: Partial<JetStreamRetryPolicy>;
  /** JetStream only: a number in [0, 1) for the retry jitter; `Math.random` by default. */
  readonly random?: () => number;
  /**
   * Whether `attach` follows the connection's status events itself (default), or the owner
   * tells it with `connectionUp`/`connectionDown` (the client does: its link is the one source
   * of connection state).
   */
  readonly followStatus?: boolean;
}

/** A snapshot of the publisher's counters: plain numbers. */
export interface StatusPublisherMetrics {
  /** Claims handed to nats.js (core) or acknowledged by the stream (JetStream). */
  readonly emitted: number;
  /** Core: publishes nats.js refused. JetStream: publish attempts that failed. */
  readonly errors: number;
  /** Claims waiting now: for the connection (core), or for their acknowledgement (JetStream). */
  readonly buffered: number;
  /** Claims dropped: the oldest beyond `bufferSize`, and those still waiting when stopped. */
  readonly dropped: number;
  /** JetStream: attempts after a claim's first one. Always 0 for core. */
  readonly retries: number;
}

/**
 * Sends claims with nats.js in the order published: straight away while connected, buffered
 * while not (core); or one at a time until acknowledged (JetStream).
 *
 * @example
 * const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 1024, logger });
 * publisher.attach(nc); // follows nc.status() from now on
 * await publisher.publish(buildClaim(input, ctx));
 * await publisher.flush();
 * const { dropped } = await publisher.drain(5000);
 */
export class StatusPublisher {
  private readonly logger: PublisherLogger;
  private nc: NatsConnection | null = null;
  private js: JetStreamClient | null = null;
  private statusFeed: AsyncIterable<Status> | null = null;
  private up = false;
  private stopping = false;
  private stopped = false;
  /** Unsettled claims, oldest first; claims settle in this order. */
  private readonly pending: PendingClaim[] = [];
  private nextSeq = 0;
  /** Core claims handed to nats.js on the current link, and how many of them a round trip confirmed. */
  private handed = 0;
  private confirmed = 0;
  /** Set when claims cannot be delivered (a JetStream stream found missing): they fail with it. */
  private refusal: Error | null = null;
  private readonly counts = { emitted: 0, errors: 0, dropped: 0, retries: 0 };
  private readonly wentUp = new Subject<void>();
  private readonly wentDown = new Subject<void>();
  /** A claim settled (sent, acknowledged or dropped). */
  private readonly progressed = new Subject<void>();
  /** Claims were given up: refused, or the publisher stopped. */
  private readonly halted = new Subject<void>();
  /** Null for core delivery. */
  private readonly jetStreamDelivery: JetStreamDelivery | null;

  /**
   * @param options Delivery mode, buffer size, logger, JetStream retry policy.
   * @throws RangeError when `bufferSize` is not a non-negative integer.
   */
  constructor(private readonly options: StatusPublisherOptions) {
    if (!Number.isInteger(options.bufferSize) || options.bufferSize < 0) {
      throw new RangeError(`bufferSize must be a non-negative integer, got ${options.bufferSize}`);
    }
    this.logger = options.logger ?? silentLogger;
    this.jetStreamDelivery =
      options.delivery === 'jetstream'
        ? new JetStreamDelivery(this.jetStreamHost(), {
            policy: options.jetstream,
            random: options.random,
          })
        : null;
  }

  /**
   * Gives the publisher its connection (once the first dial succeeds, or a shared one) and
   * follows its status events: `disconnect` and `reconnecting` hold claims back, `reconnect`
   * sends them. Claims published before `attach` wait in the buffer.
   *
   * @param nc An open connection; the publisher never closes it.
   */
  attach(nc: NatsConnection): void {
    if (this.stopping) return;
    this.stopFollowing();
    this.nc = nc;
    this.js = this.options.delivery === 'jetstream' ? nc.jetstream() : null;
    if (this.options.followStatus === false) return;
    const feed = nc.status();
    this.statusFeed = feed;
    this.follow(nc, feed).catch((error: unknown) => this.fault(error));
    nc.closed()
      .then(() => {
        if (this.nc === nc) this.connectionDown();
      })
      .catch((error: unknown) => this.fault(error));
    if (nc.isClosed()) this.connectionDown();
    else this.connectionUp();
  }

  /**
   * Claims cannot be delivered for `error`'s reason (null: they can again): pending ones are
   * rejected with it (JetStream) and counted as dropped, new ones rejected with it.
   *
   * @param error The cause, e.g. a ConfigError for a missing status stream; null to clear it.
   */
  refuse(error: Error | null): void {
    this.refusal = error;
    if (error === null) return;
    for (const entry of this.pending.splice(0)) {
      entry.dropped = true;
      this.counts.dropped++;
      entry.reject(error);
    }
    // Wakes the JetStream loop out of the attempt it waits on (the claim is given up).
    this.halted.next();
    this.progressed.next();
  }

  /** The connection is up: buffered claims go out, in order. Idempotent. */
  connectionUp(): void {
    if (this.stopped) return;
    this.up = true;
    this.wentUp.next();
    if (this.jetStreamDelivery === null) this.sendBuffered();
    else this.jetStreamDelivery.wake();
  }

  /** The connection is down: claims wait in the buffer from now on. Idempotent. */
  connectionDown(): void {
    // Claims handed to the link that went down are lost or delivered: no later round trip tells.
    this.confirmed = this.handed;
    this.up = false;
    this.wentDown.next();
  }

  /**
   * Publishes one claim, after every claim published before it.
   *
   * @param claim The subject, exact payload bytes and headers.
   * @return Core: resolves once handed to nats.js or queued; rejects with ConnectionError (nats.js's
   * error as its cause) when it refuses the publish. JetStream: resolves once the stream acknowledges it; rejects with
   * StatusClaimDroppedError when it is dropped first. Rejects with ClientStateError once
   * `drain` has begun.
   */
  publish(claim: OutgoingClaim): Promise<void> {
    if (this.stopping) {
      return Promise.reject(new ClientStateError('the status publisher is stopped'));
    }
    if (this.refusal !== null) {
      this.counts.dropped++;
      return Promise.reject(this.refusal);
    }
    const delivery = this.jetStreamDelivery;
    if (delivery === null) return this.publishCore(claim);
    return new Promise<void>((resolve, reject) => {
      this.enqueue(claim, resolve, reject);
      delivery.wake();
    });
  }

  /**
   * Resolves when every claim published so far is settled: handed to nats.js and, while the
   * connection stays up, the server's round trip done (core); acknowledged (JetStream).
   * Claims dropped meanwhile count as settled. Never rejects.
   */
  async flush(): Promise<void> {
    const target = this.nextSeq;
    while (this.settledBelow() < target) await firstValueFrom(this.progressed);
    const nc = this.nc;
    if (this.options.delivery !== 'core' || !this.up || nc === null || nc.isClosed()) return;
    const mark = this.handed;
    const roundTrip = nc.flush().then(
      () => {
        if (this.nc === nc) this.confirmed = Math.max(this.confirmed, mark);
      },
      (error: unknown) => {
        this.logger.debug({ err: error }, 'status flush round trip failed');
      },
    );
    // A disconnect during the round trip ends the flush: what was handed before it is lost or
    // delivered, and no later round trip can tell which.
    await firstValueFrom(race(from(roundTrip), this.wentDown));
  }

  /**
   * Stops the publisher: refuses new claims, flushes within `timeoutMs`, then drops what is
   * left (JetStream: rejects it with StatusClaimDroppedError `'stopped'`). Core claims handed
   * to nats.js that no round trip confirmed by then count as dropped too: the caller closes the
   * link abortively (`flushed` false), so they are never delivered. Idempotent.
   *
   * @param timeoutMs How long the flush may take.
   * @return How many claims were dropped at the end (0 on a second call), and whether every
   * claim was confirmed sent.
   */
  async drain(timeoutMs: number): Promise<{ dropped: number; flushed: boolean }> {
    if (this.stopping) return { dropped: 0, flushed: true };
    this.stopping = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.flush(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, timeoutMs));
      }),
    ]);
    clearTimeout(timer);
    this.stopped = true;
    this.stopFollowing();
    const left = this.pending.splice(0);
    for (const entry of left) this.drop(entry, 'stopped');
    const unconfirmed = this.handed - this.confirmed;
    this.counts.dropped += unconfirmed;
    this.confirmed = this.handed;
    this.halted.next();
    this.progressed.next();
    return { dropped: left.length + unconfirmed, flushed: left.length + unconfirmed === 0 };
  }

  /** A snapshot of the counters. */
  metrics(): StatusPublisherMetrics {
    return { ...this.counts, buffered: this.pending.length };
  }

  private publishCore(claim: OutgoingClaim): Promise<void> {
    if (this.up && this.nc !== null && this.pending.length === 0) {
      this.nextSeq++;
      const error = this.sendCore(this.nc, claim);
      return error === null ? Promise.resolve() : Promise.reject(error);
    }
    this.enqueue(claim, ignore, ignore);
    return Promise.resolve();
  }

  /** Hands one claim to nats.js; returns the error when nats.js refuses it. */
  private sendCore(nc: NatsConnection, claim: OutgoingClaim): Error | null {
    try {
      nc.publish(claim.subject, claim.payload, { headers: toMsgHdrs(claim.headers) });
      this.counts.emitted++;
      this.handed++;
      return null;
    } catch (error) {
      this.counts.errors++;
      this.logger.warn({ err: error, subject: claim.subject }, 'status claim not published');
      // nats.js's refusal (a closed connection, a payload over the server's limit), kept as
      // the cause of an error of the SDK's own.
      return new ConnectionError(`NATS refused the status claim: ${describeError(error)}`, {
        cause: error,
      });
    }
  }

  private sendBuffered(): void {
    const nc = this.nc;
    if (nc === null || this.pending.length === 0) return;
    while (this.up && this.pending.length > 0) this.sendCore(nc, this.pending.shift()!.claim);
    this.progressed.next();
  }

  private enqueue(claim: OutgoingClaim, resolve: () => void, reject: (error: Error) => void): void {
    this.pending.push({ claim, seq: this.nextSeq++, resolve, reject, dropped: false, attempts: 0 });
    if (this.pending.length <= this.options.bufferSize) return;
    this.drop(this.pending.shift()!, 'buffer-full');
    this.logger.warn(
      { bufferSize: this.options.bufferSize, dropped: this.counts.dropped },
      'status buffer full: oldest claim dropped',
    );
    this.progressed.next();
  }

  private drop(entry: PendingClaim, reason: 'buffer-full' | 'stopped'): void {
    entry.dropped = true;
    this.counts.dropped++;
    entry.reject(new StatusClaimDroppedError(reason));
  }

  /** A loop nats.js drives failed: counted as an error, never an unhandled rejection. */
  private fault(error: unknown): void {
    this.counts.errors++;
    this.logger.warn({ err: describeError(error) }, 'status publisher: internal fault');
  }

  /** What the JetStream delivery loop reads and tells: this publisher's queue, state and counts. */
  private jetStreamHost(): JetStreamDeliveryHost {
    return {
      pending: this.pending,
      jetStream: () => (this.up ? this.js : null),
      stopped: () => this.stopped,
      wentUp: this.wentUp,
      wentDown: this.wentDown,
      halted: this.halted,
      acknowledged: (entry) => {
        this.pending.shift();
        this.counts.emitted++;
        entry.resolve();
        this.progressed.next();
      },
      failed: (entry, error, attempt) => {
        this.counts.errors++;
        const details = { err: error, subject: entry.claim.subject, attempt };
        if (attempt === 1) this.logger.warn(details, 'status claim not acknowledged; retrying');
        else this.logger.debug(details, 'status claim retry failed');
      },
      retrying: () => {
        this.counts.retries++;
      },
      fault: (error) => this.fault(error),
    };
  }

  private async follow(nc: NatsConnection, feed: AsyncIterable<Status>): Promise<void> {
    for await (const status of feed) {
      if (this.nc !== nc || this.stopped) break;
      if (status.type === Events.Disconnect || status.type === DebugEvents.Reconnecting) {
        this.connectionDown();
      } else if (status.type === Events.Reconnect) {
        this.connectionUp();
      }
    }
  }

  private stopFollowing(): void {
    const feed = this.statusFeed as { stop?: () => void } | null;
    this.statusFeed = null;
    // nats.js status feeds are QueuedIterators: stop() ends them without waiting for an event.
    if (feed !== null && typeof feed.stop === 'function') feed.stop();
  }

  private settledBelow(): number {
    return this.pending.length > 0 ? this.pending[0].seq : this.nextSeq;
  }
}

function ignore(): void {}
