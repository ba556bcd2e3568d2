/**
 * `backbeat keygen`: a new Ed25519 key pair; the public key on stdout, the secret key in a
 * 0600 key file.
 */
import { encodeBase64 } from '../crypto/base64';
import { generateSigningKey } from '../crypto/keys';
import { ExitCode, type CliIo } from './cli-io';
import { keyFileText, writeKeyFile } from './key-file';

/** The options commander parsed for `keygen`. */
export interface KeygenCommandOptions {
  /** The key file to write. */
  readonly out?: string;
  /** Replace an existing key file. */
  readonly force?: boolean;
}

/**
 * Runs `backbeat keygen`: prints the public key (base64, one line) on stdout. With `--out`,
 * writes the key file (mode 0600, never over an existing file without `--force`). Without it,
 * the secret key (base64 of its 64 bytes, which `pulse --key` also reads) goes to stderr, with
 * a warning: stdout stays the public key alone, for scripts.
 *
 * @example
 * await runKeygen({ out: 'pulse.key' }, io); // stdout: 'v4m…=\n'
 * @return 0.
 * @throws CliUsageError when the file exists (without `--force`) or cannot be written.
 */
export function runKeygen(options: KeygenCommandOptions, io: CliIo): Promise<ExitCode> {
  const { secretKey, publicKey } = generateSigningKey();
  if (options.out !== undefined) {
    writeKeyFile(options.out, keyFileText(secretKey, publicKey), {
      force: options.force === true,
    });
    io.stderr.write(`wrote the secret key to ${options.out} (mode 0600); keep it private\n`);
  } else {
    io.stderr.write(
      'no --out FILE: the secret key follows, in base64; keep it private, or rerun with --out FILE\n' +
        `${encodeBase64(secretKey)}\n`,
    );
  }
  io.stdout.write(`${encodeBase64(publicKey)}\n`);
  return Promise.resolve(ExitCode.Ok);
}
