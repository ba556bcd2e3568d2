/**
 * The trusted keys file of `backbeat tap --trusted-keys FILE`: JSON mapping each agent id to
 * the base64 public key, or list of keys, trusted for it.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../errors';
import { verifyStatus, type VerifyStatusOptions } from '../operators/verify-status';
import { CliUsageError } from './cli-io';

/** `{ "<agentId>": "<base64 public key>" | ["<key>", …] }`; verifyStatus checks ids and keys. */
export const TrustedKeysFileSchema = z.record(
  z.string(),
  z.union([z.string(), z.array(z.string())], {
    message: 'must be a base64 public key or a list of them',
  }),
);

/** What a trusted keys file holds, as verifyStatus takes it. */
export type TrustedKeys = NonNullable<VerifyStatusOptions['trustedKeys']>;

/**
 * Parses a trusted keys file's text, checking every agent id and key as `verifyStatus` will.
 *
 * @example
 * parseTrustedKeys('{ "indexer-1": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=" }');
 * @throws Error saying which entry is wrong.
 */
export function parseTrustedKeys(text: string): TrustedKeys {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(
      'it is not valid JSON: expected { "<agentId>": "<base64 public key>" | [...] }',
    );
  }
  const parsed = TrustedKeysFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length > 0 ? `"${issue.path.map(String).join('.')}" ` : '';
    const what =
      issue.path.length > 0
        ? issue.message
        : 'must be an object: { "<agentId>": "<base64 public key>" | [...] }';
    throw new Error(`${where}${what}`);
  }
  try {
    verifyStatus({ trustedKeys: parsed.data });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // The field is `trustedKeys.<agent>[.<i>]`: the file's own path is what the user knows.
    throw new Error(`"${error.field.replace(/^trustedKeys\./, '')}" ${stripField(error)}`);
  }
  return parsed.data;
}

/**
 * Reads a trusted keys file (see {@link parseTrustedKeys}).
 *
 * @throws CliUsageError naming the file and what is wrong with it.
 */
export function readTrustedKeysFile(path: string): TrustedKeys {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliUsageError(`--trusted-keys ${path}: cannot read it: ${(error as Error).message}`);
  }
  try {
    return parseTrustedKeys(text);
  } catch (error) {
    throw new CliUsageError(`--trusted-keys ${path}: ${(error as Error).message}`);
  }
}

function stripField(error: ConfigError): string {
  const prefix = `${error.field}: `;
  return error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
}
