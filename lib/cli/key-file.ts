/**
 * The key file of `backbeat keygen --out FILE`, read back by `backbeat pulse --key FILE`:
 * JSON `{ "secretKey": <base64 of 64 bytes>, "publicKey": <base64 of 32 bytes> }`, mode 0600.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { encodeBase64 } from '../crypto/base64';
import { parseSigningKey, type SigningKey } from '../crypto/keys';
import { ConfigError } from '../errors';
import { CliUsageError } from './cli-io';

/** The JSON key file; unknown fields are ignored. */
export const KeyFileSchema = z.object({
  secretKey: z.string({ message: 'must be a string: base64 of the 64-byte secret key' }),
  publicKey: z.string({ message: 'must be a string: base64 of the 32-byte public key' }).optional(),
});

/** Owner read and write only: a secret key is nobody else's business. */
const SECRET_FILE_MODE = 0o600;

const FORMATS =
  'expected JSON {"secretKey": …, "publicKey": …} as written by `backbeat keygen --out FILE`, ' +
  'or the base64 of a 64-byte Ed25519 secret key or of a 32-byte seed';

/**
 * The text of a key file for a key pair.
 *
 * @example
 * const { secretKey, publicKey } = generateSigningKey();
 * keyFileText(secretKey, publicKey); // '{\n  "secretKey": "…",\n  "publicKey": "…"\n}\n'
 * @param secretKey The 64-byte secret key.
 * @param publicKey The 32-byte public key.
 * @return The JSON text, ending in a newline.
 */
export function keyFileText(secretKey: Uint8Array, publicKey: Uint8Array): string {
  const file: z.infer<typeof KeyFileSchema> = {
    secretKey: encodeBase64(secretKey),
    publicKey: encodeBase64(publicKey),
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/**
 * Writes a key file with mode 0600. Without `force` it never replaces an existing file; with
 * it, the new file is written beside the old one and renamed over it, so that the secret is
 * never readable by others even for a moment, whatever the old file's mode was.
 *
 * @example
 * writeKeyFile('pulse.key', keyFileText(secretKey, publicKey), { force: false });
 * @param path Where to write.
 * @param text The file's text (see {@link keyFileText}).
 * @param options `force`: replace an existing file.
 * @throws CliUsageError when the file exists and `force` is not set, or it cannot be written.
 */
export function writeKeyFile(path: string, text: string, options: { force: boolean }): void {
  try {
    if (!options.force) {
      writeFileSync(path, text, { mode: SECRET_FILE_MODE, flag: 'wx' });
      return;
    }
    const temporary = join(dirname(path), `.backbeat-key-${randomBytes(6).toString('hex')}`);
    try {
      writeFileSync(temporary, text, { mode: SECRET_FILE_MODE, flag: 'wx' });
      // The umask cannot widen 0600, but it could narrow it; the owner must be able to read.
      chmodSync(temporary, SECRET_FILE_MODE);
      renameSync(temporary, path);
    } finally {
      rmSync(temporary, { force: true });
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new CliUsageError(
        `${path} already exists: choose another --out file, or pass --force to replace it`,
      );
    }
    throw new CliUsageError(`cannot write ${path}: ${(error as Error).message}`);
  }
}

/**
 * Parses a key file's text: the JSON of `backbeat keygen`, or the bare base64 of a 64-byte
 * secret key or a 32-byte seed (surrounding whitespace ignored).
 *
 * @example
 * parseKeyFile(keyFileText(secretKey, publicKey)).publicKeyBase64; // encodeBase64(publicKey)
 * @param text The file's text.
 * @return The signing key.
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
 * Reads a key file (see {@link parseKeyFile}).
 *
 * @example
 * const key = readKeyFile('pulse.key');
 * @param path The file.
 * @return The signing key.
 * @throws CliUsageError naming the file and what is wrong with it.
 */
export function readKeyFile(path: string): SigningKey {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliUsageError(`--key ${path}: cannot read it: ${(error as Error).message}`);
  }
  try {
    return parseKeyFile(text);
  } catch (error) {
    throw new CliUsageError(`--key ${path}: ${(error as Error).message}`);
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
        : `${what} is not a key; ${FORMATS}`,
    );
  }
}
