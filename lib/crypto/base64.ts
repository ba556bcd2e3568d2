/**
 * Strict base64 (RFC 4648 section 4: standard alphabet, padded) for keys and signatures on the
 * wire. Only the one canonical text of each byte string is accepted, so two different headers
 * can never name the same key or signature.
 */

const STANDARD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Encodes bytes as standard, padded base64.
 *
 * @example
 * encodeBase64(new Uint8Array([1, 2, 3])); // 'AQID'
 */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * Decodes base64 text only when it is the canonical, padded, standard-alphabet form of exactly
 * `byteLength` bytes: no whitespace, no URL alphabet, no missing padding, no stray bits.
 *
 * @example
 * decodeStrictBase64('AQID', 3); // Uint8Array [1, 2, 3]
 * decodeStrictBase64('AQIE', 3); // Uint8Array [1, 2, 4]
 * decodeStrictBase64('AQI=', 3); // null: 2 bytes
 * decodeStrictBase64('AQJ=', 2); // null: non-zero padding bits
 * @param byteLength The number of bytes it must hold.
 * @return The bytes, or null when `text` is not the canonical form of `byteLength` bytes.
 */
export function decodeStrictBase64(text: string, byteLength: number): Uint8Array | null {
  if (typeof text !== 'string' || text.length !== 4 * Math.ceil(byteLength / 3)) return null;
  if (!STANDARD_BASE64.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  // Node's decoder is lenient; re-encoding catches stray padding bits and misplaced '='.
  if (bytes.length !== byteLength || bytes.toString('base64') !== text) return null;
  return new Uint8Array(bytes);
}
