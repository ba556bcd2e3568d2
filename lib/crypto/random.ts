/** Random ids from the system's secure random source: node:crypto here, the Node edge. */
import { randomBytes } from 'node:crypto';

/**
 * `byteCount` random bytes as lowercase hex.
 *
 * @example
 * randomHex(8); // e.g. '3f9c0a1b2d4e5f60'
 * @param byteCount How many bytes (twice as many hex digits).
 */
export function randomHex(byteCount: number): string {
  return randomBytes(byteCount).toString('hex');
}
