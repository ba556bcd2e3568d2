/**
 * The trusted keys file of `tap --trusted-keys`: agent id → base64 public key(s), every id and
 * key checked up front, errors naming the entry.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { parseTrustedKeys } from '../../lib/cli/trusted-keys-file';
import { encodeBase64 } from '../../lib/crypto/base64';
import { runCli } from './cli-harness';

const keyA = encodeBase64(nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(1)).publicKey);
const keyB = encodeBase64(nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(2)).publicKey);

describe('trusted keys files', () => {
  it('reads one key or a list of keys per agent', () => {
    const text = JSON.stringify({ 'agent-1': keyA, 'agent-2': [keyA, keyB] });
    expect(parseTrustedKeys(text)).toEqual({ 'agent-1': keyA, 'agent-2': [keyA, keyB] });
  });

  it.each([
    ['broken JSON', '{', /not valid JSON/],
    ['a list', JSON.stringify([keyA]), /must be an object/],
    [
      'a number for a key',
      JSON.stringify({ 'agent-1': 7 }),
      /"agent-1" must be a base64 public key or a list of them/,
    ],
    [
      'a key of the wrong length',
      JSON.stringify({ 'agent-1': 'AQID' }),
      /"agent-1" must be a 32-byte Ed25519 public key/,
    ],
    [
      'a bad key in a list',
      JSON.stringify({ 'agent-1': [keyA, 'AQID'] }),
      /"agent-1\.1" must be a 32-byte/,
    ],
    [
      'an agent id that is not a token',
      JSON.stringify({ 'a.b': keyA }),
      /"a\.b" agent ids must be 1 to 128/,
    ],
  ])('refuses %s, naming the entry', (_, text, message) => {
    expect(() => parseTrustedKeys(text)).toThrow(message);
  });

  it('makes tap exit 2 with the file named, before dialling NATS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backbeat-trusted-'));
    try {
      const file = join(dir, 'trusted.json');
      writeFileSync(file, JSON.stringify({ 'agent-1': 'AQID' }));
      const run = runCli(['tap', '--cluster', 'dev', '--trusted-keys', file]);
      expect(await run.code).toBe(2);
      expect(run.stderr.text).toContain(`error: --trusted-keys ${file}: "agent-1" must be`);
      expect(run.stderr.text).not.toContain('NATS');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
