import { identity, type MonoTypeOperatorFunction } from 'rxjs';

/**
 * Passes claim messages through unchanged: on Node, signatures verify synchronously (node:crypto)
 * inside the claim judge, so there is nothing to do ahead. The browser's twin,
 * `verify-ahead.browser.ts`, verifies them through WebCrypto first.
 *
 * @example
 * messages.pipe(verifyAhead(), map((message) => judgeClaim(message, policy, memory)));
 * @return An operator that emits each message as it came.
 */
export function verifyAhead<T>(): MonoTypeOperatorFunction<T> {
  return identity;
}
