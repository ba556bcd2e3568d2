/**
 * `backbeat keygen`: the public key on stdout, the secret key in a 0600 key file that is never
 * overwritten without --force, and which `pulse --key` reads back.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { readKeyFile } from '../../lib/cli/key-file';
import { decodeStrictBase64 } from '../../lib/crypto/base64';
import { parseSigningKey } from '../../lib/crypto/keys';
import { runCli } from './cli-harness';

describe('backbeat keygen', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'backbeat-keygen-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function readKeyJson(path: string): { secretKey: string; publicKey: string } {
    return JSON.parse(readFileSync(path, 'utf8')) as { secretKey: string; publicKey: string };
  }

  it('writes a 0600 key file whose public key is the one printed on stdout', async () => {
    const out = join(dir, 'pulse.key');
    const run = runCli(['keygen', '--out', out]);
    expect(await run.code).toBe(0);

    expect(statSync(out).mode & 0o777).toBe(0o600);
    const file = readKeyJson(out);
    const secretKey = decodeStrictBase64(file.secretKey, 64)!;
    expect(secretKey).not.toBeNull();
    // The public key is derived from the secret key's seed, not just copied from the file.
    const derived = nacl.sign.keyPair.fromSeed(secretKey.slice(0, 32)).publicKey;
    expect(run.stdout.text).toBe(`${Buffer.from(derived).toString('base64')}\n`);
    expect(file.publicKey).toBe(run.stdout.text.trim());
    expect(readKeyFile(out).publicKeyBase64).toBe(file.publicKey);
    expect(run.stderr.text).toContain(`wrote the secret key to ${out} (mode 0600)`);
  });

  it('makes a different key pair each time', async () => {
    const first = runCli(['keygen', '--out', join(dir, 'a.key')]);
    const second = runCli(['keygen', '--out', join(dir, 'b.key')]);
    expect([await first.code, await second.code]).toEqual([0, 0]);
    expect(first.stdout.text).not.toBe(second.stdout.text);
  });

  it('refuses to overwrite an existing file without --force (exit 2), and leaves it as it was', async () => {
    const out = join(dir, 'pulse.key');
    writeFileSync(out, 'precious\n');
    const run = runCli(['keygen', '--out', out]);
    expect(await run.code).toBe(2);
    expect(run.stderr.text).toContain(`${out} already exists`);
    expect(run.stderr.text).toContain('--force');
    expect(run.stdout.text).toBe('');
    expect(readFileSync(out, 'utf8')).toBe('precious\n');
  });

  it('replaces an existing file with --force, and the new file is 0600 whatever the old mode', async () => {
    const out = join(dir, 'pulse.key');
    writeFileSync(out, 'old\n');
    chmodSync(out, 0o644);
    const run = runCli(['keygen', '--out', out, '--force']);
    expect(await run.code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readKeyJson(out).publicKey).toBe(run.stdout.text.trim());
  });

  it('fails with exit 2 when the file cannot be written', async () => {
    const out = join(dir, 'no-such-dir', 'pulse.key');
    const run = runCli(['keygen', '--out', out]);
    expect(await run.code).toBe(2);
    expect(run.stderr.text).toContain(`cannot write ${out}`);
  });

  it('without --out, prints the public key on stdout and the secret key, with a warning, on stderr', async () => {
    const run = runCli(['keygen']);
    expect(await run.code).toBe(0);
    const [warning, secret] = run.stderr.lines();
    expect(warning).toContain('no --out FILE');
    expect(parseSigningKey(secret).publicKeyBase64).toBe(run.stdout.text.trim());
  });
});
