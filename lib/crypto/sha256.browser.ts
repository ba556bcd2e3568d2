/**
 * The browser edge of `sha256.ts`, through @noble/hashes: WebCrypto's digest is async only, and
 * window ids are computed synchronously as beats are made.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { encodeBase64 } from './base64';

/**
 * SHA-256 of a text's UTF-8 bytes, as lowercase hex.
 *
 * @example
 * sha256Hex('chorus-dev:1').slice(0, 32); // 'dcf38a6a073449b365c2c1bd92983e4e'
 * @return 64 lowercase hex digits.
 */
export function sha256Hex(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}

/**
 * SHA-256 of bytes, as standard padded base64.
 *
 * @example
 * sha256Base64(new Uint8Array(0)); // '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='
 * @return 44 characters of base64.
 */
export function sha256Base64(bytes: Uint8Array): string {
  return encodeBase64(sha256(bytes));
}
