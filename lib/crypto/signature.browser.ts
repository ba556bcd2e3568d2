/**
 * The browser edge of `signature.ts`: Ed25519 through tweetnacl, which is synchronous like the
 * Node edge, so the frame judge, the claim judge and claim sealing run one code path on both.
 * WebCrypto's Ed25519, much faster but answering only with Promises, verifies claims ahead of
 * the judge (`verify-ahead.browser.ts`) and leaves its verdicts here for `verifyBytes` to take.
 * Verification refuses non-canonical signatures (S ≥ L) first, as node:crypto (and WebCrypto)
 * do and tweetnacl does not: every path gives the same verdict on the same bytes.
 */
import nacl from 'tweetnacl';
import { encodeBase64 } from './base64';
import { isUint8Array } from './bytes';
import { sameBytes, type SigningKey } from './keys';

const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;

/** Ed25519's group order L, little-endian, as S is encoded in the signature's second half. */
const GROUP_ORDER_LE = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]);

/**
 * Signs bytes with Ed25519.
 *
 * @example
 * const signature = signBytes(parseSigningKey(secretKey), payload);
 * headers.set('x-signature', encodeBase64(signature));
 * @param key The signing key, from `parseSigningKey`.
 * @param bytes The exact bytes to sign.
 * @return The 64-byte signature (the same as node:crypto's: Ed25519 is deterministic).
 */
export function signBytes(key: SigningKey, bytes: Uint8Array): Uint8Array {
  return nacl.sign.detached(bytes, key.secretKey);
}

/**
 * Verifies an Ed25519 signature; non-canonical signatures (S ≥ L) do not verify.
 *
 * @example
 * verifyBytes(publicKey, payload, signature); // true or false
 * @param publicKey The 32-byte public key.
 * @param bytes The exact bytes that were signed.
 * @param signature The 64-byte signature.
 * @return Whether the signature is valid; false, never an exception, for any bad input.
 */
export function verifyBytes(
  publicKey: Uint8Array,
  bytes: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (!isUint8Array(publicKey) || publicKey.length !== PUBLIC_KEY_BYTES) return false;
  if (!isUint8Array(signature) || signature.length !== SIGNATURE_BYTES) return false;
  if (!isUint8Array(bytes) || !isCanonicalSignature(signature)) return false;
  const known = takeVerdict(publicKey, bytes, signature);
  if (known !== undefined) return known;
  try {
    return nacl.sign.detached.verify(bytes, signature, publicKey);
  } catch {
    return false;
  }
}

/**
 * Whether a 64-byte signature's S (its last 32 bytes, little-endian) is below L.
 *
 * @example
 * isCanonicalSignature(signBytes(key, payload)); // true
 * @param signature The 64-byte signature.
 */
export function isCanonicalSignature(signature: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const s = signature[32 + i];
    const l = GROUP_ORDER_LE[i];
    if (s !== l) return s < l;
  }
  return false; // S = L
}

/** How many verdicts made ahead wait for the judge: more than a burst of claims in flight. */
const VERDICTS_KEPT = 256;

/** Verdicts made ahead (WebCrypto), by signature; each is taken once, by the judge. */
const verdictsAhead = new Map<
  string,
  { publicKey: Uint8Array; bytes: Uint8Array; valid: boolean }
>();

/**
 * Leaves a verdict made elsewhere (WebCrypto, asynchronously) for the next `verifyBytes` of the
 * same key, bytes and signature.
 *
 * @example
 * rememberVerdict(publicKey, payload, signature, await crypto.subtle.verify('Ed25519', key, signature, payload));
 * @param publicKey The 32-byte public key.
 * @param bytes The exact bytes that were signed.
 * @param signature The 64-byte signature.
 * @param valid Whether it verified.
 */
export function rememberVerdict(
  publicKey: Uint8Array,
  bytes: Uint8Array,
  signature: Uint8Array,
  valid: boolean,
): void {
  if (verdictsAhead.size >= VERDICTS_KEPT) {
    verdictsAhead.delete(verdictsAhead.keys().next().value as string);
  }
  verdictsAhead.set(encodeBase64(signature), { publicKey, bytes, valid });
}

/** The verdict left for exactly this key, bytes and signature, taken; undefined when none. */
function takeVerdict(
  publicKey: Uint8Array,
  bytes: Uint8Array,
  signature: Uint8Array,
): boolean | undefined {
  const id = encodeBase64(signature);
  const known = verdictsAhead.get(id);
  if (known === undefined) return undefined;
  verdictsAhead.delete(id);
  return sameBytes(known.publicKey, publicKey) && sameBytes(known.bytes, bytes)
    ? known.valid
    : undefined;
}
