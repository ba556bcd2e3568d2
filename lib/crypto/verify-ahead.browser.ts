// Types only (erased from the bundle): WebCrypto's, as @types/node names them.
import type { webcrypto } from 'node:crypto';
import { concatMap, from, of, type MonoTypeOperatorFunction } from 'rxjs';
import { headerValues, type HeadersLike } from '../protocol/headers';
import { decodeStrictBase64 } from './base64';
import { isUint8Array } from './bytes';
import { isCanonicalSignature, rememberVerdict } from './signature.browser';

const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;
/** Imported WebCrypto keys kept, by base64: enough for every agent of a large cluster. */
const KEY_CACHE_SIZE = 1024;

const utf8 = new TextEncoder();
const importedKeys = new Map<string, Promise<webcrypto.CryptoKey>>();

/**
 * WebCrypto's Ed25519 when this browser has it (Chromium 113+, Firefox 129+, Safari 17+), found
 * once by importing a key; null where it does not (tweetnacl then verifies in the claim judge).
 */
const webCrypto: Promise<webcrypto.SubtleCrypto | null> = (async () => {
  const subtle = globalThis.crypto?.subtle;
  if (subtle === undefined) return null;
  try {
    await subtle.importKey('raw', new Uint8Array(PUBLIC_KEY_BYTES).fill(1), 'Ed25519', false, [
      'verify',
    ]);
    return subtle;
  } catch {
    return null;
  }
})();

/**
 * Verifies each signed claim message's signature through WebCrypto's Ed25519 before the claim
 * judge sees it, in order; the judge's own synchronous check (`verifyBytes`) then takes that
 * verdict instead of running tweetnacl, about a hundred times slower. The judge still decides
 * everything: a message this cannot read goes through untouched and is judged as always.
 *
 * @example
 * messages.pipe(verifyAhead(), map((message) => judgeClaim(message, policy, memory)));
 * @return An operator that emits each message once its signature has been verified ahead.
 */
export function verifyAhead<T>(): MonoTypeOperatorFunction<T> {
  return (messages) =>
    messages.pipe(
      concatMap((message) => {
        const signed = signedParts(message);
        return signed === null ? of(message) : from(verify(signed).then(() => message));
      }),
    );
}

interface SignedParts {
  readonly publicKey: Uint8Array<ArrayBuffer>;
  readonly publicKeyText: string;
  readonly signature: Uint8Array<ArrayBuffer>;
  readonly bytes: Uint8Array<ArrayBuffer>;
}

/** The key, signature and payload bytes the judge will check, or null when they are not all there. */
function signedParts(message: unknown): SignedParts | null {
  try {
    const { data, headers } = message as { data?: unknown; headers?: HeadersLike };
    const [publicKeyText, ...moreKeys] = headerValues(headers, 'x-public-key');
    const [signatureText, ...moreSignatures] = headerValues(headers, 'x-signature');
    if (moreKeys.length > 0 || moreSignatures.length > 0) return null;
    const publicKey = decodeStrictBase64(publicKeyText, PUBLIC_KEY_BYTES);
    const signature = decodeStrictBase64(signatureText, SIGNATURE_BYTES);
    if (publicKey === null || signature === null || !isCanonicalSignature(signature)) return null;
    const bytes = isUint8Array(data) ? data : typeof data === 'string' ? utf8.encode(data) : null;
    if (bytes === null) return null;
    return {
      publicKey: new Uint8Array(publicKey),
      publicKeyText,
      signature: new Uint8Array(signature),
      bytes: new Uint8Array(bytes),
    };
  } catch {
    return null; // junk: the judge names it
  }
}

/** Verifies through WebCrypto and leaves the verdict for the judge; never rejects. */
async function verify(signed: SignedParts): Promise<void> {
  try {
    const subtle = await webCrypto;
    if (subtle === null) return;
    let key = importedKeys.get(signed.publicKeyText);
    // Least recently used first out, as the Node key cache: a hit moves the key to the end.
    if (key !== undefined) importedKeys.delete(signed.publicKeyText);
    if (key === undefined) {
      key = subtle.importKey('raw', signed.publicKey, 'Ed25519', false, ['verify']);
      if (importedKeys.size >= KEY_CACHE_SIZE) {
        importedKeys.delete(importedKeys.keys().next().value as string);
      }
    }
    importedKeys.set(signed.publicKeyText, key);
    const valid = await subtle.verify('Ed25519', await key, signed.signature, signed.bytes);
    rememberVerdict(signed.publicKey, signed.bytes, signed.signature, valid);
  } catch {
    // A key WebCrypto refuses (not a curve point): tweetnacl judges it in the judge.
    importedKeys.delete(signed.publicKeyText);
  }
}
