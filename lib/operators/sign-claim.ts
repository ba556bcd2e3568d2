import { catchError, concatAll, defer, map, of, throwError, type OperatorFunction } from 'rxjs';
import { claimFlowOf, type SignedClaim } from '../claims/claim-flow';
import type { BackbeatClient } from '../client';
import type { StatusClaimInput } from '../protocol/status-claim';

/**
 * Stamps each input with the beat, window and HLC of `client` current when the input arrives,
 * fills the rest (ids, default task id), encodes it once and signs those bytes (when the client
 * has a `signingKey`): emits `{ subject, claim, data, headers }`, in order. Nothing is published:
 * `publishClaim(client)` does that.
 *
 * Inputs that arrive before the client's first beat wait for it, in order, at most
 * `statusBufferSize` of them (beyond, the oldest are dropped, counted in
 * `metrics().status.dropped`, and not emitted), and are stamped with that beat; if the client
 * stops first, the stream errors with `ClientStateError`. An input that did not come through
 * `validateClaim()` is validated here. Errors with `StatusClaimValidationError` for an invalid
 * input, `ClientStateError` before `start()` or after `stop()`.
 *
 * Its output is the claim as stamped: the earliest point at which a claim's beat, window and
 * HLC are known, before it is sent (see `publishClaim` for "sent").
 *
 * @example
 * ```ts
 * inputs$.pipe(validateClaim(), signClaim(client)).subscribe(({ claim, headers }) =>
 *   console.log(`stamped at beat ${claim.beat_index}, hlc ${headers['x-hlc']}`),
 * );
 * ```
 * @see publishClaim, the next step; emitStatus, the whole chain.
 * @param client A client made by `createClient` (started before the first input arrives).
 * @return An operator from inputs to signed claims.
 */
export function signClaim(client: BackbeatClient): OperatorFunction<StatusClaimInput, SignedClaim> {
  return (input$) =>
    defer(() => {
      const flow = claimFlowOf(client, 'signClaim');
      // Stamped in `map`, as each input arrives; concatAll only keeps the order of those that
      // wait for the first beat (bounded by the flow), and an error comes after them.
      return input$.pipe(
        map((input) => flow.sign(input, 'signClaim')),
        catchError((err: unknown) => of(throwError(() => err))),
        concatAll(),
      );
    });
}
