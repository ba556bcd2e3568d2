import { concatMap, type OperatorFunction } from 'rxjs';
import type { StatusClaim, StatusClaimInput } from '../protocol/status-claim';

/**
 * What `emitStatus` needs of a client: a way to send one claim.
 *
 * @example
 * ```ts
 * // A stand-in for tests: claims are recorded, not published.
 * const sent: StatusClaimInput[] = [];
 * const recorder: StatusEmitter = {
 *   emitStatusClaim: async (input) => (sent.push(input), toClaim(input)),
 * };
 * inputs$.pipe(emitStatus(recorder)).subscribe();
 * ```
 */
export interface StatusEmitter {
  /**
   * Validates, fills, signs and publishes one claim.
   *
   * @example
   * ```ts
   * const claim = await emitter.emitStatusClaim({ state: 'review', beatsLeft: 1, progress: 0.9 });
   * ```
   * @param input The claim, as the caller writes it.
   * @return The claim as sent.
   */
  emitStatusClaim(input: StatusClaimInput): Promise<StatusClaim>;
}

/**
 * Sends each status claim input through `client`, in order and one at a time: validated,
 * filled, signed and published; emits each claim as sent.
 *
 * An invalid input errors the stream with `StatusClaimValidationError` (nothing of it is
 * published); the stream completes after the last claim is sent.
 *
 * @example
 * progress$
 *   .pipe(
 *     map((done) => ({ state: 'executing', beatsLeft: 10 - done, progress: done / 10 })),
 *     emitStatus(client),
 *   )
 *   .subscribe((claim) => console.log('sent at beat', claim.beat_index));
 *
 * @param client A started client (or anything with `emitStatusClaim`).
 * @return An operator from inputs to the claims sent.
 */
export function emitStatus(client: StatusEmitter): OperatorFunction<StatusClaimInput, StatusClaim> {
  return concatMap((input) => client.emitStatusClaim(input));
}
