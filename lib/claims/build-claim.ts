import type { ValidStatusClaimInput } from '../protocol/status-claim';
import { sealClaim, type ClaimContext, type SealedClaim } from './seal-claim';
import { validateClaimInput } from './validate-claim-input';

/**
 * Turns a caller's claim input into a claim ready to publish: validates it, fills the SDK's
 * fields, encodes it once, checks its size, signs it and names its headers.
 *
 * @example
 * const { subject, claim, payload, headers } = buildClaim(
 *   { state: 'executing', beatsLeft: 5, progress: 0.3, notes: 'indexing' },
 *   { clusterId: 'chorus-dev', agentId: 'indexer-1', defaultTaskId, beat, hlc: clock.tick(), signingKey },
 * );
 * @param input The caller's `StatusClaimInput` (camelCase), unchecked.
 * @param ctx What the SDK fills in, and the key to sign with.
 * @return The sealed claim.
 * @throws StatusClaimValidationError whose `issues` name every bad field, or the whole claim
 * when it encodes to more than 4096 bytes.
 * @see validateClaimInput and sealClaim, its two halves, to validate before taking an HLC tick.
 */
export function buildClaim(input: unknown, ctx: ClaimContext): SealedClaim {
  const valid: ValidStatusClaimInput = validateClaimInput(input);
  return sealClaim(valid, ctx);
}
