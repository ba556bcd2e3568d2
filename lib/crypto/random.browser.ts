/** The browser edge of `random.ts`: WebCrypto's `getRandomValues`. */

/**
 * `byteCount` random bytes as lowercase hex.
 *
 * @example
 * randomHex(8); // e.g. '3f9c0a1b2d4e5f60'
 * @param byteCount How many bytes (twice as many hex digits).
 */
export function randomHex(byteCount: number): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(byteCount));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
