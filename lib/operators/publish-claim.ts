import { catchError, concatAll, defer, filter, map, of, type OperatorFunction } from 'rxjs';
import { claimFlowOf, type SignedClaim } from '../claims/claim-flow';
import type { BackbeatClient } from '../client';
import type { StatusClaim } from '../protocol/status-claim';
import { StatusClaimDroppedError } from '../transport/status-publisher';

/**
 * Publishes each signed claim through `client`'s bounded status buffer, in order, as it
 * arrives, and emits each `StatusClaim` once sent: core delivery, handed to nats.js (or, while
 * disconnected, held in the buffer, to go out in order at the reconnect); JetStream, once the
 * stream acknowledged it. Completes after the last.
 *
 * Claims are handed to the buffer at once (`statusBufferSize`; no other queue in front of it):
 * beyond it the oldest are dropped and counted in `metrics().status.dropped`, and a dropped
 * claim is not emitted. Errors with `ClientStateError` after `stop()`, or with nats.js's error
 * when it refuses a publish. To know that the server has had every claim emitted so far, await
 * `client.flush()`.
 *
 * @example
 * ```ts
 * signed$.pipe(publishClaim(client)).subscribe((claim) => console.log('sent', claim.hlc));
 * // Or wait, claim by claim, for the server's round trip (core) too:
 * signed$
 *   .pipe(publishClaim(client), concatMap((claim) => client.flush().then(() => claim)))
 *   .subscribe((claim) => console.log('the server has', claim.hlc));
 * ```
 * @see signClaim, the step before; emitStatus, the whole chain.
 * @param client The client that signed the claims.
 * @return An operator from signed claims to the claims sent.
 */
export function publishClaim(
  client: BackbeatClient,
): OperatorFunction<SignedClaim, Readonly<StatusClaim>> {
  return (signed$) =>
    defer(() => {
      const flow = claimFlowOf(client, 'publishClaim');
      // Handed to the publisher in `map`, as each arrives; concatAll keeps the order of the
      // settlements, which the publisher keeps itself (bounded by its buffer), and an error comes
      // after the claims handed before it. The promises never reject: one left behind when the
      // stream is unsubscribed must not be unhandled.
      return signed$.pipe(
        map((signed) => flow.publish(signed).then(sent, failed)),
        catchError((err: unknown) => of(Promise.resolve<Outcome>({ error: err }))),
        concatAll(),
        filter((outcome) => outcome !== DROPPED),
        map((outcome) => {
          if ('error' in outcome) throw outcome.error;
          return outcome.claim;
        }),
      );
    });
}

type Outcome = { claim: Readonly<StatusClaim> } | { error: unknown };

/** A claim the buffer dropped (counted by the publisher): not emitted. */
const DROPPED: Outcome = { error: null };

function sent(claim: Readonly<StatusClaim>): Outcome {
  return { claim };
}

function failed(error: unknown): Outcome {
  return error instanceof StatusClaimDroppedError ? DROPPED : { error };
}
