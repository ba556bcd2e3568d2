/**
 * node:crypto private key objects for Ed25519 seeds: the Node edge; `key-object.browser.ts`,
 * the browser's, has none (its signer signs from the secret key's bytes).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';

/** Bytes of an Ed25519 seed. */
const SEED_BYTES = 32;

/** PKCS#8 DER header of an Ed25519 private key (RFC 8410); the 32-byte seed follows. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * A node:crypto private key object for an Ed25519 seed.
 *
 * @example
 * const keyObject = privateKeyObjectFromSeed(signingKey.secretKey.subarray(0, 32));
 * @param seed The 32-byte seed.
 */
export function privateKeyObjectFromSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed.subarray(0, SEED_BYTES)]),
    format: 'der',
    type: 'pkcs8',
  });
}
