/**
 * `loadSigningKey`: the one place the SDK reads a key from a file. Node only (node:fs); a
 * browser passes the key's text or bytes to `signingKey` instead.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors';
import { hexKeyHint, parseSigningKeyField } from './key-text';

/** Base64 of 32 or 64 bytes: a key given inline, not a path. */
const BASE64_KEY = /^(?:[A-Za-z0-9+/]{43}=|[A-Za-z0-9+/]{86}==)$/;

/**
 * Loads the signing key `backbeat keygen` made, for `createClient({ signingKey })`: the path of
 * the key file (`backbeat keygen --out agent.key`), or the file's text (its JSON), or the bare
 * base64 of the secret key (what `backbeat keygen` prints without `--out`). Checked at once, so
 * a wrong key fails here and not at the first claim.
 *
 * @example
 * ```ts
 * const signingKey = loadSigningKey(process.env.BACKBEAT_KEY ?? 'agent.key');
 * const client = createClient({ clusterId: 'chorus-dev', agentId: 'my-service', signingKey });
 * ```
 * @param pathOrText A key file's path, or its text, or a base64 key.
 * @return The 64-byte Ed25519 secret key.
 * @throws ConfigError (field `signingKey`) naming the file and what is wrong; a hex key gets a
 * hint to convert it.
 */
export function loadSigningKey(pathOrText: string): Uint8Array {
  if (typeof pathOrText !== 'string' || pathOrText.trim() === '') {
    throw new ConfigError('signingKey', 'loadSigningKey needs a key file path or a key text');
  }
  const trimmed = pathOrText.trim();
  if (trimmed.startsWith('{') || BASE64_KEY.test(trimmed)) {
    return parseSigningKeyField(trimmed).secretKey;
  }
  const hint = hexKeyHint(trimmed);
  if (hint !== '')
    throw new ConfigError('signingKey', `is not a key file nor a base64 key.${hint}`);
  let text: string;
  try {
    text = readFileSync(pathOrText, 'utf8');
  } catch (error) {
    throw new ConfigError(
      'signingKey',
      `cannot read the key file ${pathOrText}: ${(error as Error).message} (make one with \`backbeat keygen --out ${pathOrText}\`)`,
      { cause: error },
    );
  }
  try {
    return parseSigningKeyField(text).secretKey;
  } catch (error) {
    const message = (error as Error).message.replace(/^signingKey: /, '');
    throw new ConfigError('signingKey', `${pathOrText}: ${message}`, { cause: error });
  }
}
