/**
 * Key files as `pulse --key` reads them: keygen's JSON, or the bare base64 of a 64-byte secret
 * key or of a 32-byte seed; anything else is a clear usage error (exit 2).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { CliUsageError } from '../../lib/cli/cli-io';
import { keyFileText, parseKeyFile, readKeyFile } from '../../lib/cli/key-file';
import { encodeBase64 } from '../../lib/crypto/base64';
import { runCli } from './cli-harness';

describe('key files', () => {
  const pair = nacl.sign.keyPair.fromSeed(Uint8Array.from({ length: 32 }, (_, i) => i * 7));
  const publicKeyBase64 = encodeBase64(pair.publicKey);
  const otherPair = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(9));

  describe('parseKeyFile', () => {
    it.each([
      ['the JSON of keygen', keyFileText(pair.secretKey, pair.publicKey)],
      ['JSON without publicKey', JSON.stringify({ secretKey: encodeBase64(pair.secretKey) })],
      ['base64 of the 64-byte secret key', encodeBase64(pair.secretKey)],
      ['base64 of the 32-byte seed', encodeBase64(pair.secretKey.slice(0, 32))],
      ['base64 with surrounding whitespace', `\n  ${encodeBase64(pair.secretKey)}  \n`],
    ])('reads %s', (_, text) => {
      const key = parseKeyFile(text);
      expect(key.publicKeyBase64).toBe(publicKeyBase64);
      expect(key.secretKey).toEqual(pair.secretKey);
    });

    it.each([
      ['text that is no key', 'hello', /the file is not a key; expected JSON/],
      ['broken JSON', '{ "secretKey": ', /not valid JSON/],
      ['JSON without secretKey', '{ "publicKey": "x" }', /secretKey must be a string/],
      ['a secretKey of the wrong length', '{ "secretKey": "AQID" }', /secretKey is not a key/],
      [
        'a publicKey that is not the secret key’s',
        JSON.stringify({
          secretKey: encodeBase64(pair.secretKey),
          publicKey: encodeBase64(otherPair.publicKey),
        }),
        /publicKey is not the public key of secretKey/,
      ],
      [
        'a 64-byte key whose halves disagree',
        encodeBase64(new Uint8Array([...pair.secretKey.slice(0, 32), ...otherPair.publicKey])),
        /second half of the 64-byte secret key is not the public key of its first half/,
      ],
      [
        'base64 of a public key (32 bytes is a seed, 44 chars) cut short',
        publicKeyBase64.slice(0, 40),
        /not a key/,
      ],
    ])('refuses %s, saying why', (_, text, message) => {
      expect(() => parseKeyFile(text)).toThrow(message);
    });
  });

  describe('readKeyFile and pulse --key', () => {
    let dir: string;

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'backbeat-keyfile-'));
    });

    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('reads a file and names it in errors', () => {
      const good = join(dir, 'good.key');
      writeFileSync(good, encodeBase64(pair.secretKey));
      expect(readKeyFile(good).publicKeyBase64).toBe(publicKeyBase64);

      const bad = join(dir, 'bad.key');
      writeFileSync(bad, 'nope');
      expect(() => readKeyFile(bad)).toThrow(CliUsageError);
      expect(() => readKeyFile(bad)).toThrow(`--key ${bad}: the file is not a key`);
    });

    it('makes pulse exit 2 with the file named, before dialling NATS', async () => {
      const bad = join(dir, 'bad.key');
      writeFileSync(bad, '{ "secretKey": 42 }');
      const run = runCli(['pulse', '--cluster', 'dev', '--key', bad]);
      expect(await run.code).toBe(2);
      expect(run.stderr.text).toContain(`error: --key ${bad}: secretKey must be a string`);
      expect(run.stderr.text).not.toContain('NATS');
    });
  });
});
