/**
 * The text forms of a signing key, without the file system (browser-safe): the JSON that
 * `backbeat keygen --out FILE` writes, `{ "secretKey": <base64 of 64 bytes>, "publicKey":
 * <base64 of 32 bytes> }`, or the bare base64 of a 64-byte secret key or of a 32-byte seed.
 */
import { z } from 'zod';
import { ConfigError } from '../errors';
import { parseSigningKey, type SigningKey } from './keys';

/** The JSON key file; unknown fields are ignored. */
export const KeyFileSchema = z.object({
  secretKey: z.string({ message: 'must be a string: base64 of the 64-byte secret key' }),
  publicKey: z.string({ message: 'must be a string: base64 of the 32-byte public key' }).optional(),
});

const FORMATS =
  'expected JSON {"secretKey": …, "publicKey": …} as written by `backbeat keygen --out FILE`, ' +
  'or the base64 of a 64-byte Ed25519 secret key or of a 32-byte seed';

/** 32 or 64 bytes in hex: a common mistake, since keys are base64 here. */
const HEX_KEY = /^(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{128})$/;

/**
 * The hint for a key written in hex, or '' when `text` is not hex.
 *
 * @param text The key text, trimmed.
 * @return A sentence to append to the error, starting with a space.
 */
export function hexKeyHint(text: string): string {
  return HEX_KEY.test(text)
    ? ` It looks like hex: keys are base64 here; convert it first (e.g. xxd -r -p key.hex | base64 -w0).`
    : '';
}

/**
 * Parses a key file's text: the JSON of `backbeat keygen`, or the bare base64 of a 64-byte
 * secret key or a 32-byte seed (surrounding whitespace ignored).
 *
 * @example
 * parseKeyFile(keyFileText(secretKey, publicKey)).publicKeyBase64; // encodeBase64(publicKey)
 * @throws Error saying what is wrong and which formats are accepted.
 */
export function parseKeyFile(text: string): SigningKey {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return signingKeyOf(trimmed, 'the file');
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    throw new Error(`it is not valid JSON; ${FORMATS}`);
  }
  const parsed = KeyFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.length > 0 ? issue.path.join('.') : 'the file';
    throw new Error(`${field} ${issue.message}; ${FORMATS}`);
  }
  const key = signingKeyOf(parsed.data.secretKey, 'secretKey');
  if (parsed.data.publicKey !== undefined && parsed.data.publicKey !== key.publicKeyBase64) {
    throw new Error(
      `publicKey is not the public key of secretKey (it should be ${key.publicKeyBase64})`,
    );
  }
  return key;
}

/**
 * Parses the `signingKey` config field: bytes, base64, or the JSON text of a key file.
 *
 * @throws ConfigError (field `signingKey`) saying what is wrong, with a hint for hex keys.
 */
export function parseSigningKeyField(key: Uint8Array | string): SigningKey {
  if (typeof key !== 'string') return parseSigningKey(key);
  const trimmed = key.trim();
  if (!trimmed.startsWith('{')) {
    try {
      return parseSigningKey(trimmed);
    } catch (error) {
      const hint = hexKeyHint(trimmed);
      if (hint === '' || !(error instanceof ConfigError)) throw error;
      throw new ConfigError('signingKey', `${error.message.replace(/^signingKey: /, '')}.${hint}`);
    }
  }
  try {
    return parseKeyFile(trimmed);
  } catch (error) {
    throw new ConfigError('signingKey', `a key file's JSON, but ${(error as Error).message}`);
  }
}

function signingKeyOf(base64: string, what: string): SigningKey {
  try {
    return parseSigningKey(base64);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new Error(
      /second half/.test(error.message)
        ? `${what}: the second half of the 64-byte secret key is not the public key of its first half`
        : `${what} is not a key; ${FORMATS}.${hexKeyHint(base64)}`,
    );
  }
}
