/**
 * The browser edge of `key-object.ts`: browsers have no node:crypto key objects, so a parsed
 * signing key carries none and the browser's signer signs from its secret key's bytes.
 */
import type { KeyObject } from 'node:crypto';

/**
 * No key object in a browser.
 *
 * @example
 * privateKeyObjectFromSeed(seed); // undefined
 */
export function privateKeyObjectFromSeed(_seed: Uint8Array): KeyObject | undefined {
  return undefined;
}
