/**
 * Ed25519 keys (docs/protocol.md section 8): parsing the configured signing key and trusted public
 * keys, and generating new key pairs.
 */
import type { KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';
import { ConfigError } from '../errors';
import { decodeStrictBase64, encodeBase64 } from './base64';
import { isUint8Array } from './bytes';
import { privateKeyObjectFromSeed } from './key-object';

export { privateKeyObjectFromSeed } from './key-object';

/** Bytes of an Ed25519 seed, and of a public key. */
const SEED_BYTES = 32;
const PUBLIC_KEY_BYTES = 32;
/** Bytes of a tweetnacl / Go secret key: seed followed by public key. */
const SECRET_KEY_BYTES = 64;

/**
 * A parsed signing key, ready to sign with.
 *
 * @example
 * ```ts
 * const key: SigningKey = parseSigningKey(process.env.BACKBEAT_SIGNING_KEY!);
 * console.log(key.publicKeyBase64); // what observers put in their trustedKeys
 * ```
 */
export interface SigningKey {
  /** The 64-byte secret key: seed followed by public key. */
  readonly secretKey: Uint8Array;
  /** The 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** The public key as it goes in the `x-public-key` header. */
  readonly publicKeyBase64: string;
  /**
   * The node:crypto private key, built once so that signing does not re-import the key.
   * Absent on hand-built keys; the signer then builds it from `secretKey`.
   */
  readonly privateKeyObject?: KeyObject;
}

/**
 * Parses a signing key: a 64-byte Ed25519 secret key (seed then public key) or a 32-byte seed,
 * as bytes or as their base64.
 *
 * @example
 * const key = parseSigningKey(generateSigningKey().secretKey);
 * key.publicKeyBase64; // 44 characters
 * @param key The key, as `Uint8Array` or standard padded base64.
 * @return The key, its public key, and a node:crypto key object to sign with.
 * @throws ConfigError (field `signingKey`) when the key is neither 64 nor 32 bytes, or when the
 * second half of a 64-byte key is not the public key of its first half.
 */
export function parseSigningKey(key: Uint8Array | string): SigningKey {
  const bytes = keyBytes(key, [SECRET_KEY_BYTES, SEED_BYTES]);
  if (bytes === null) {
    throw new ConfigError(
      'signingKey',
      'must be a 64-byte Ed25519 secret key or a 32-byte seed, as bytes or base64',
    );
  }
  const pair = nacl.sign.keyPair.fromSeed(bytes.slice(0, SEED_BYTES));
  if (bytes.length === SECRET_KEY_BYTES && !sameBytes(bytes.subarray(SEED_BYTES), pair.publicKey)) {
    throw new ConfigError(
      'signingKey',
      'the second half of the 64-byte secret key is not the public key of its first half',
    );
  }
  return {
    secretKey: pair.secretKey,
    publicKey: pair.publicKey,
    publicKeyBase64: encodeBase64(pair.publicKey),
    privateKeyObject: privateKeyObjectFromSeed(pair.secretKey),
  };
}

/**
 * Parses an Ed25519 public key given as 32 bytes or as their base64.
 *
 * @example
 * parsePublicKey('11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=', 'trustedPulseKeys.0');
 * @param field The configuration field to name in the error.
 * @return A copy of the 32 key bytes.
 * @throws ConfigError naming `field` when the key is not 32 bytes or strict base64 of them.
 */
export function parsePublicKey(key: Uint8Array | string, field: string): Uint8Array {
  const bytes = keyBytes(key, [PUBLIC_KEY_BYTES]);
  if (bytes === null) {
    throw new ConfigError(field, 'must be a 32-byte Ed25519 public key, as bytes or base64');
  }
  return bytes;
}

/**
 * Generates a new Ed25519 key pair from the system's secure random source.
 *
 * @example
 * const { secretKey, publicKey } = generateSigningKey();
 * createClient({ clusterId, agentId, signingKey: secretKey });
 * @return The 64-byte secret key (seed then public key) and the 32-byte public key.
 */
export function generateSigningKey(): { secretKey: Uint8Array; publicKey: Uint8Array } {
  const { secretKey, publicKey } = nacl.sign.keyPair();
  return { secretKey, publicKey };
}

/** A copy of the key's bytes when it has one of the allowed lengths, else null. */
function keyBytes(key: unknown, lengths: readonly number[]): Uint8Array | null {
  // isUint8Array, not instanceof: a Buffer or an array from another realm is bytes too.
  if (isUint8Array(key)) {
    return lengths.includes(key.length) ? Uint8Array.from(key) : null;
  }
  if (typeof key === 'string') {
    for (const length of lengths) {
      const bytes = decodeStrictBase64(key, length);
      if (bytes !== null) return bytes;
    }
  }
  return null;
}

/** Whether two byte arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
