/**
 * Ed25519 signatures over exact payload bytes (docs/protocol.md sections 5 and 8), through
 * node:crypto (OpenSSL): several times faster than tweetnacl, and it refuses non-canonical
 * signatures (S ≥ L), which tweetnacl accepts.
 */
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { isUint8Array } from 'node:util/types';
import { privateKeyObjectFromSeed, type SigningKey } from './keys';

const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;

/** SPKI DER header of an Ed25519 public key (RFC 8410); the 32-byte key follows. */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** How many public key objects to keep: enough for every agent of a large cluster. */
const PUBLIC_KEY_CACHE_SIZE = 1024;

/** Public key objects by key (hex), least recently used first. */
const publicKeyObjects = new Map<string, KeyObject>();

/**
 * Signs bytes with Ed25519.
 *
 * @example
 * const signature = signBytes(parseSigningKey(secretKey), payload);
 * headers.set('x-signature', encodeBase64(signature));
 * @param key The signing key, from `parseSigningKey`.
 * @param bytes The exact bytes to sign.
 * @return The 64-byte signature (the same as tweetnacl's: Ed25519 is deterministic).
 */
export function signBytes(key: SigningKey, bytes: Uint8Array): Uint8Array {
  const keyObject = key.privateKeyObject ?? privateKeyObjectFromSeed(key.secretKey);
  return new Uint8Array(sign(null, bytes, keyObject));
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
  if (!isUint8Array(bytes)) return false;
  try {
    return verify(null, bytes, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

/** The cached node:crypto key object of a public key, building it on a miss. */
function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString(
    'hex',
  );
  let keyObject = publicKeyObjects.get(id);
  if (keyObject === undefined) {
    keyObject = createPublicKey({
      key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]),
      format: 'der',
      type: 'spki',
    });
    if (publicKeyObjects.size >= PUBLIC_KEY_CACHE_SIZE) {
      publicKeyObjects.delete(publicKeyObjects.keys().next().value as string);
    }
  } else {
    // Re-insert so that the map's order stays least recently used first.
    publicKeyObjects.delete(id);
  }
  publicKeyObjects.set(id, keyObject);
  return keyObject;
}
