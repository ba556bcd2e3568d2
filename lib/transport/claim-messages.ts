import type { Msg, NatsConnection, NatsError, Subscription as NatsSubscription } from 'nats';
import { Observable } from 'rxjs';
import { ConnectionError } from '../errors';
import type { StatusMessage } from '../observers/judge-claim';
import { isPromiseLike } from '../promise-like';
import { statusStreamName, statusStreamSubjects, statusWildcard } from '../protocol/subjects';

/**
 * Where an observer's claims come from: `'new'`, those published from now on;
 * `'last-per-agent'`, first each agent's last claim stored in the cluster's status stream (when
 * JetStream and the stream are there), then new ones.
 *
 * @example
 * ```ts
 * // A dashboard that starts from what every agent said last:
 * client.statusClaims$({ deliver: 'last-per-agent', requireSignature: false }).subscribe(render);
 * ```
 */
export type ClaimDelivery = 'new' | 'last-per-agent';

/** Stored claims asked for at once: a bound on requests in flight and on what they hold. */
const STORED_BATCH = 64;

/** Live claims held while stored ones are read; beyond it they pass without waiting. */
export const MAX_HELD_LIVE_CLAIMS = 10_000;

/**
 * The raw claim messages of a cluster, as `verifyStatus` takes them. With `'last-per-agent'`
 * the live subscription starts first and holds what arrives while the stored claims are read
 * (up to {@link MAX_HELD_LIVE_CLAIMS}; beyond it they pass at once), so no claim falls in
 * between; a claim both stored and live comes twice (the observer reports the second as
 * `duplicate`).
 *
 * @param connection The connection, or a promise of it (the client may still be dialling).
 * @param clusterId The cluster.
 * @param deliver `'new'` or `'last-per-agent'`.
 * @return Messages until unsubscribed or the connection closes.
 */
export function statusClaimMessages(
  connection: NatsConnection | PromiseLike<NatsConnection>,
  clusterId: string,
  deliver: ClaimDelivery,
): Observable<StatusMessage> {
  return new Observable<StatusMessage>((subscriber) => {
    let subscription: NatsSubscription | null = null;
    let closed = false;
    let held: StatusMessage[] | null = deliver === 'last-per-agent' ? [] : null;
    const onMessage = (err: NatsError | null, msg: Msg): void => {
      if (err) {
        // A permissions violation on the subscription: nats.js's error kept as the cause.
        subscriber.error(refused(err));
        return;
      }
      const message = { subject: msg.subject, data: msg.data, headers: msg.headers };
      if (!hold(message)) subscriber.next(message);
    };
    const subject = statusWildcard(clusterId);
    const refused = (err: unknown): ConnectionError =>
      new ConnectionError(
        `cannot subscribe to ${subject}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    const begin = (nc: NatsConnection): void => {
      try {
        subscription = nc.subscribe(subject, { callback: onMessage });
      } catch (err) {
        // A connection closed meanwhile, or a subject nats.js refuses.
        subscriber.error(refused(err));
        return;
      }
      void subscription.closed.then(() => subscriber.complete());
      if (!held) return;
      // Stored claims are a best effort, as when the stream is missing: live ones follow anyway.
      void replayStored(nc)
        .catch(() => undefined)
        .then(() => {
          const live = held ?? [];
          held = null;
          for (const message of live) {
            if (closed) return;
            subscriber.next(message);
          }
        });
    };
    /** Live claims that arrive while stored ones are read wait, up to a bound; then pass. */
    const hold = (message: StatusMessage): boolean => {
      if (held === null) return false;
      if (held.length < MAX_HELD_LIVE_CLAIMS) {
        held.push(message);
        return true;
      }
      // Too many to hold: what was held goes now, in order, and live claims from now on too;
      // stored claims read later still come (an older one is then judged a replay).
      const live = held;
      held = null;
      for (const waiting of live) subscriber.next(waiting);
      return false;
    };
    const replayStored = async (nc: NatsConnection): Promise<void> => {
      for await (const batch of lastClaimPerAgent(nc, clusterId)) {
        for (const message of batch) {
          if (closed) return;
          subscriber.next(message);
        }
      }
    };
    if (isPromiseLike(connection)) {
      connection.then(
        (nc) => {
          if (!closed) begin(nc);
        },
        (err: unknown) => subscriber.error(err),
      );
    } else {
      // Already connected: the subscription exists when subscribe() returns.
      begin(connection);
    }
    return () => {
      closed = true;
      subscription?.unsubscribe();
    };
  });
}

/**
 * Each agent's last stored claim, read a batch at a time (oldest first within a batch), so a
 * stream of many agents is neither asked all at once nor held in memory whole; none when
 * JetStream or the stream is absent.
 */
async function* lastClaimPerAgent(
  nc: NatsConnection,
  clusterId: string,
): AsyncGenerator<StatusMessage[]> {
  const stream = statusStreamName(clusterId);
  let subjects: string[];
  const jsm = await nc.jetstreamManager().catch(() => null);
  if (!jsm) return;
  try {
    const info = await jsm.streams.info(stream, {
      subjects_filter: statusStreamSubjects(clusterId),
    });
    subjects = Object.keys(info.state.subjects ?? {});
  } catch {
    return;
  }
  for (let start = 0; start < subjects.length; start += STORED_BATCH) {
    const batch = subjects.slice(start, start + STORED_BATCH);
    const stored = await Promise.all(
      batch.map((subject) =>
        jsm.streams.getMessage(stream, { last_by_subj: subject }).catch(() => null),
      ),
    );
    yield stored
      .filter((message) => message !== null)
      .sort((a, b) => a.seq - b.seq)
      .map((message) => ({
        subject: message.subject,
        data: message.data,
        headers: message.header,
      }));
  }
}
