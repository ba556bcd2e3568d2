import { StatusClaimValidationError, type StatusClaimIssue } from '../errors';
import { StatusClaimInputSchema, type ValidStatusClaimInput } from '../protocol/status-claim';

/**
 * Validates what a caller gives `emitStatusClaim` (camelCase, PROTOCOL.md section 5) without
 * filling anything, so that an invalid input costs no HLC tick and publishes nothing.
 *
 * @example
 * validateClaimInput({ state: 'executing', beatsLeft: 5, progress: 0.3 });
 * // { state: 'executing', beatsLeft: 5, progress: 0.3, notes: '' }
 * validateClaimInput({ state: 'sleeping', beatsLeft: -1, progress: 0 });
 * // throws StatusClaimValidationError: issues at ['state'] and ['beatsLeft']
 * @param input Anything; only a valid `StatusClaimInput` passes.
 * @return A new, valid input with defaults applied; the caller's object is not touched.
 * @throws StatusClaimValidationError whose `issues` name every bad field by its camelCase path.
 */
export function validateClaimInput(input: unknown): ValidStatusClaimInput {
  const result = StatusClaimInputSchema.safeParse(input);
  if (result.success) return result.data;
  throw new StatusClaimValidationError(
    result.error.issues.map((issue): StatusClaimIssue => ({
      path: issue.path.map((key) => (typeof key === 'number' ? key : String(key))),
      message: issue.message,
    })),
  );
}
