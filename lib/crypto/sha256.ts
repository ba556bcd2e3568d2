/**
 * SHA-256 for window ids and replay digests, through node:crypto: the Node edge;
 * `sha256.browser.ts` is the browser's.
 */
import { createHash } from 'node:crypto';

/**
 * SHA-256 of a text's UTF-8 bytes, as lowercase hex.
 *
 * @example
 * sha256Hex('chorus-dev:1').slice(0, 32); // 'dcf38a6a073449b365c2c1bd92983e4e'
 * @return 64 lowercase hex digits.
 */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * SHA-256 of bytes, as standard padded base64.
 *
 * @example
 * sha256Base64(new Uint8Array(0)); // '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='
 * @return 44 characters of base64.
 */
export function sha256Base64(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64');
}
