/**
 * `loadSigningKey` in a browser build (which swaps this file in for load-signing-key.ts): there
 * are no files to read, so it takes the key's text only.
 */
import { ConfigError } from '../errors';
import { parseSigningKeyField } from './key-text';

/**
 * Loads a signing key from its text: the JSON `backbeat keygen --out` writes, or the base64 of
 * the secret key. A browser has no files: a path is refused, saying so.
 *
 * @example
 * ```ts
 * const signingKey = loadSigningKey(await (await fetch('/agent.key')).text());
 * ```
 * @param text The key file's text, or a base64 key.
 * @return The 64-byte Ed25519 secret key.
 * @throws ConfigError (field `signingKey`) when it is no key.
 */
export function loadSigningKey(text: string): Uint8Array {
  const trimmed = typeof text === 'string' ? text.trim() : '';
  if (trimmed.startsWith('{') || /^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) {
    return parseSigningKeyField(trimmed).secretKey;
  }
  throw new ConfigError(
    'signingKey',
    "a browser has no files to read: pass the key file's text (its JSON) or the base64 key",
  );
}
