import type { OperatorFunction } from 'rxjs';
import type { BackbeatClient } from '../client';
import type { StatusClaim, StatusClaimInput } from '../protocol/status-claim';
import { publishClaim } from './publish-claim';
import { signClaim } from './sign-claim';
import { validateClaim } from './validate-claim';

/**
 * Sends each status claim input through `client`, in order: the claim chain
 * `validateClaim(), signClaim(client), publishClaim(client)`. Emits each `StatusClaim` once
 * sent (core: handed to nats.js, or held in the bounded buffer while disconnected; JetStream:
 * acknowledged); completes after the last.
 *
 * Each input is stamped with the beat, window and HLC current when it arrives (before the
 * first beat, with that beat). `state`, `beatsLeft` and `progress` are required: an invalid input
 * errors the stream with `StatusClaimValidationError` naming every bad field, and nothing of it
 * is published. Claims go straight into the client's bounded buffer (`statusBufferSize`; beyond
 * it the oldest are dropped, counted, and not emitted). For the claim as stamped, before it is
 * sent, use `validateClaim()` and `signClaim(client)` alone.
 *
 * @example
 * ```ts
 * progress$
 *   .pipe(
 *     map((done) => ({ state: 'executing' as const, beatsLeft: 10 - done, progress: done / 10 })),
 *     emitStatus(client),
 *   )
 *   .subscribe((claim) => console.log('sent at beat', claim.beat_index));
 * ```
 * @see validateClaim, signClaim, publishClaim: the three steps.
 * @param client A client made by `createClient`, started.
 * @return An operator from inputs to the claims sent.
 */
export function emitStatus(
  client: BackbeatClient,
): OperatorFunction<StatusClaimInput, Readonly<StatusClaim>> {
  return (input$) => input$.pipe(validateClaim(), signClaim(client), publishClaim(client));
}
