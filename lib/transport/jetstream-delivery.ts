/**
 * The JetStream side of the status publisher (README.md, Delivery guarantees): at least once,
 * stored once. One claim in flight at a time, in order, published with its `Nats-Msg-Id` and
 * retried with backoff until the stream acknowledges it; while the connection is down the claims
 * wait for it to come back.
 */
import { firstValueFrom, merge, type Observable } from 'rxjs';
import type { JetStreamClient } from 'nats';
import { CLAIM_HEADERS } from '../claims/claim-headers';
import { publishUntilAcknowledged, type JetStreamRetryPolicy } from './jetstream-publish';
import { toMsgHdrs } from './msg-headers';

/** A message to publish: a `SealedClaim` is one. */
export interface OutgoingClaim {
  readonly subject: string;
  readonly payload: Uint8Array;
  /** Header names as written on the wire; `Nats-Msg-Id` doubles as the JetStream msgID. */
  readonly headers: Readonly<Record<string, string>>;
}

/** One claim not yet settled (sent, acknowledged or dropped). */
export interface PendingClaim {
  readonly claim: OutgoingClaim;
  readonly seq: number;
  /** JetStream: settles the caller's promise. Core: no-ops, its promise resolved when queued. */
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  dropped: boolean;
  attempts: number;
}

/** What the delivery loop reads of its publisher, and what it tells it. */
export interface JetStreamDeliveryHost {
  /** Unsettled claims, oldest first: the loop delivers the head. */
  readonly pending: readonly PendingClaim[];
  /** The JetStream client while the connection is up; null while it is down. */
  jetStream(): JetStreamClient | null;
  /** True once the publisher stopped: the loop ends. */
  stopped(): boolean;
  readonly wentUp: Observable<void>;
  readonly wentDown: Observable<void>;
  /** Claims were given up (refused, or the publisher stopped): an attempt in flight is abandoned. */
  readonly halted: Observable<void>;
  /** The stream acknowledged `entry`, which is the head of `pending`. */
  acknowledged(entry: PendingClaim): void;
  /** An attempt failed; `attempt` counts from 1. */
  failed(entry: PendingClaim, error: unknown, attempt: number): void;
  /** An attempt after a claim's first one is about to start. */
  retrying(): void;
  /** The loop itself failed (nats.js threw where it should not): counted, never unhandled. */
  fault(error: unknown): void;
}

/** How attempts are made: the acknowledgement's limit and backoff, and the jitter's source. */
export interface JetStreamDeliveryOptions {
  readonly policy?: Partial<JetStreamRetryPolicy>;
  /** A number in [0, 1) for the retry jitter; `Math.random` by default. */
  readonly random?: () => number;
}

/**
 * Delivers a publisher's pending claims to JetStream, one at a time, in order.
 *
 * @example
 * const delivery = new JetStreamDelivery(host, { policy: { ackTimeoutMs: 2000 } });
 * delivery.wake(); // after a claim is queued, or the connection came up
 */
export class JetStreamDelivery {
  private working = false;

  constructor(
    private readonly host: JetStreamDeliveryHost,
    private readonly options: JetStreamDeliveryOptions = {},
  ) {}

  /** Starts the loop unless it runs already. */
  wake(): void {
    if (this.working) return;
    this.working = true;
    this.run().catch((error: unknown) => this.host.fault(error));
  }

  /** Clears `working` in the same turn as it finds nothing left to do. */
  private async run(): Promise<void> {
    const { host } = this;
    try {
      while (!host.stopped() && host.pending.length > 0) {
        const js = host.jetStream();
        if (js === null) {
          await firstValueFrom(merge(host.wentUp, host.halted));
          continue;
        }
        const entry = host.pending[0];
        // Not acknowledged: dropped (the loop moves on), stopped, or the connection went down
        // (the loop waits for it to come back).
        if ((await this.deliverOne(js, entry)) && !entry.dropped && host.pending[0] === entry) {
          host.acknowledged(entry);
        }
      }
    } finally {
      this.working = false;
    }
  }

  private deliverOne(js: JetStreamClient, entry: PendingClaim): Promise<boolean> {
    const { host } = this;
    const { claim } = entry;
    return publishUntilAcknowledged(js, claim.subject, claim.payload, {
      policy: this.options.policy,
      random: this.options.random,
      msgID: claim.headers[CLAIM_HEADERS.msgId],
      headers: () => toMsgHdrs(claim.headers),
      state: entry,
      givenUp: () => entry.dropped || host.stopped(),
      connectionUp: () => host.jetStream() !== null,
      onInterrupt: (wake) => {
        const interruption = merge(host.wentDown, host.halted).subscribe(wake);
        return () => interruption.unsubscribe();
      },
      onFailure: (error, attempt) => host.failed(entry, error, attempt),
      onRetry: () => host.retrying(),
    });
  }
}
