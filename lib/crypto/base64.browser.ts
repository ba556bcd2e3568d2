/**
 * The browser edge of `base64.ts`: the same strict base64 over `btoa` and `atob`, without
 * `Buffer`.
 */

const STANDARD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Encodes bytes as standard, padded base64.
 *
 * @example
 * encodeBase64(new Uint8Array([1, 2, 3])); // 'AQID'
 */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * Decodes base64 text only when it is the canonical, padded, standard-alphabet form of exactly
 * `byteLength` bytes: no whitespace, no URL alphabet, no missing padding, no stray bits.
 *
 * @example
 * decodeStrictBase64('AQID', 3); // Uint8Array [1, 2, 3]
 * decodeStrictBase64('AQJ=', 2); // null: non-zero padding bits
 * @param byteLength The number of bytes it must hold.
 * @return The bytes, or null when `text` is not the canonical form of `byteLength` bytes.
 */
export function decodeStrictBase64(text: string, byteLength: number): Uint8Array | null {
  if (typeof text !== 'string' || text.length !== 4 * Math.ceil(byteLength / 3)) return null;
  if (!STANDARD_BASE64.test(text)) return null;
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return null; // '=' in the middle
  }
  if (binary.length !== byteLength) return null;
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  // atob ignores stray padding bits; re-encoding catches them, as on Node.
  return encodeBase64(bytes) === text ? bytes : null;
}
