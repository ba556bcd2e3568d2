import type { NatsConnection, Subscription as NatsSubscription } from 'nats';
import { Observable } from 'rxjs';
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

/**
 * The raw claim messages of a cluster, as `verifyStatus` takes them. With `'last-per-agent'`
 * the live subscription starts first and holds what arrives while the stored claims are read,
 * so no claim falls in between; a claim both stored and live comes twice (the observer reports
 * the second as `duplicate`).
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
    const begin = (nc: NatsConnection): void => {
      subscription = nc.subscribe(statusWildcard(clusterId), {
        callback: (err, msg) => {
          if (err) {
            subscriber.error(err);
            return;
          }
          const message = { subject: msg.subject, data: msg.data, headers: msg.headers };
          if (held) held.push(message);
          else subscriber.next(message);
        },
      });
      void subscription.closed.then(() => subscriber.complete());
      if (!held) return;
      void lastClaimPerAgent(nc, clusterId).then((stored) => {
        for (const message of stored) {
          if (closed) return;
          subscriber.next(message);
        }
        const live = held ?? [];
        held = null;
        for (const message of live) subscriber.next(message);
      });
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

/** Each agent's last stored claim, oldest first; none when JetStream or the stream is absent. */
async function lastClaimPerAgent(nc: NatsConnection, clusterId: string): Promise<StatusMessage[]> {
  const stream = statusStreamName(clusterId);
  let subjects: Record<string, number>;
  const jsm = await nc.jetstreamManager().catch(() => null);
  if (!jsm) return [];
  try {
    const info = await jsm.streams.info(stream, {
      subjects_filter: statusStreamSubjects(clusterId),
    });
    subjects = info.state.subjects ?? {};
  } catch {
    return [];
  }
  const stored = await Promise.all(
    Object.keys(subjects).map((subject) =>
      jsm.streams.getMessage(stream, { last_by_subj: subject }).catch(() => null),
    ),
  );
  return stored
    .filter((message) => message !== null)
    .sort((a, b) => a.seq - b.seq)
    .map((message) => ({ subject: message.subject, data: message.data, headers: message.header }));
}
