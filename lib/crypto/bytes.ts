/**
 * Whether a value is a `Uint8Array` (a `Buffer`, or one from another realm, included): the
 * Node edge of the crypto layer; `bytes.browser.ts` is the browser's.
 */
export { isUint8Array } from 'node:util/types';
