/**
 * The key file of `backbeat keygen --out FILE`, read back by `backbeat pulse --key FILE`:
 * JSON `{ "secretKey": <base64 of 64 bytes>, "publicKey": <base64 of 32 bytes> }`, mode 0600.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { z } from 'zod';
import { encodeBase64 } from '../crypto/base64';
import { KeyFileSchema, parseKeyFile } from '../crypto/key-text';
import type { SigningKey } from '../crypto/keys';
import { CliUsageError } from './cli-io';

export { KeyFileSchema, parseKeyFile };

/** Owner read and write only: a secret key is nobody else's business. */
const SECRET_FILE_MODE = 0o600;

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
 * Reads a key file (see {@link parseKeyFile}).
 *
 * @example
 * const key = readKeyFile('pulse.key');
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
