import { map, type OperatorFunction } from 'rxjs';
import { validateClaimInput } from '../claims/validate-claim-input';
import type { StatusClaimInput, ValidStatusClaimInput } from '../protocol/status-claim';

/**
 * Checks each status claim input with zod, strictly, and passes it on with its defaults
 * applied: the first step of the claim chain, before any beat or HLC tick is spent on it.
 *
 * `state`, `beatsLeft` and `progress` are required. An invalid input errors the stream with
 * `StatusClaimValidationError`, whose `issues` name every bad field: a missing one says
 * "missing", and a field the input does not have (`beats_left`, `task_id`) is an issue naming
 * the field meant ("did you mean beatsLeft?") instead of being silently dropped.
 *
 * @example
 * ```ts
 * inputs$.pipe(validateClaim()).subscribe({
 *   next: (input) => console.log('valid', input.state),
 *   error: (err) => console.error(err.message),
 *   // invalid status claim: progress: missing: required, a number from 0 to 1, …;
 *   //   beats_left: unknown field, did you mean beatsLeft?
 * });
 * ```
 * @see emitStatus, which runs this, then signClaim and publishClaim.
 * @return An operator from inputs to valid (frozen) inputs.
 */
export function validateClaim(): OperatorFunction<StatusClaimInput, ValidStatusClaimInput> {
  return map((input) => validateClaimInput(input));
}
