/**
 * `loadSigningKey` and the `signingKey` field take what `backbeat keygen` writes (issue 16): the
 * key file's path, its text (JSON), the bare base64 it prints; a hex key gets a hint.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, ConfigError, loadSigningKey } from '../../lib/index';
import { encodeBase64 } from '../../lib/crypto/base64';
import { runCli } from '../cli/cli-harness';

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as Error;
  }
  throw new Error('nothing was thrown');
}

describe('loadSigningKey', () => {
  let dir: string;
  let keyFile: string;
  let printedSecret: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'backbeat-load-key-'));
    keyFile = join(dir, 'agent.key');
    expect(await runCli(['keygen', '--out', keyFile]).code).toBe(0);
    const printed = runCli(['keygen']);
    expect(await printed.code).toBe(0);
    printedSecret = printed.stderr.text.trim().split('\n').pop()!;
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads the file `backbeat keygen --out` writes, by path, and its text', async () => {
    const text = readFileSync(keyFile, 'utf8');
    const fromPath = loadSigningKey(keyFile);
    expect(fromPath).toHaveLength(64);
    expect(loadSigningKey(text)).toEqual(fromPath);
    const publicKey = (JSON.parse(text) as { publicKey: string }).publicKey;
    expect(encodeBase64(fromPath.subarray(32))).toBe(publicKey);
    // The field itself takes the file's text too.
    const client = createClient({ clusterId: 'c', agentId: 'a', signingKey: text });
    await client.stop();
  });

  it('loads the base64 secret key `backbeat keygen` prints without --out', () => {
    expect(printedSecret).toMatch(/^[A-Za-z0-9+/]{86}==$/);
    expect(encodeBase64(loadSigningKey(printedSecret))).toBe(printedSecret);
  });

  it('says which file cannot be read, and how to make one', () => {
    const missing = join(dir, 'nope.key');
    expect(thrown(() => loadSigningKey(missing)).message).toMatch(
      new RegExp(`cannot read the key file ${missing}.*backbeat keygen --out`),
    );
  });

  it('names the file whose text is no key', () => {
    const bad = join(dir, 'bad.key');
    writeFileSync(bad, '{ "secretKey": "AQID" }');
    chmodSync(bad, 0o600);
    expect(thrown(() => loadSigningKey(bad)).message).toMatch(
      new RegExp(`^signingKey: ${bad}: .*secretKey is not a key`),
    );
  });

  it('gives hex keys a hint, inline, in a file, and in the field', () => {
    const hex = Buffer.from(loadSigningKey(printedSecret)).toString('hex');
    const hint = /looks like hex.*keys are base64.*xxd -r -p/;
    expect(thrown(() => loadSigningKey(hex)).message).toMatch(hint);
    const hexFile = join(dir, 'hex.key');
    writeFileSync(hexFile, `${hex}\n`);
    expect(thrown(() => loadSigningKey(hexFile)).message).toMatch(hint);
    expect(
      thrown(() => createClient({ clusterId: 'c', agentId: 'a', signingKey: hex.slice(0, 64) }))
        .message,
    ).toMatch(hint);
  });
});

describe('loadSigningKey in a browser build (load-signing-key.browser.ts)', () => {
  it('takes the text of a key file, and refuses a path, saying why', async () => {
    const { loadSigningKey: inBrowser } = await import('../../lib/crypto/load-signing-key.browser');
    const { generateSigningKey } = await import('../../lib/crypto/keys');
    const { keyFileText } = await import('../../lib/cli/key-file');
    const { secretKey, publicKey } = generateSigningKey();
    expect(inBrowser(keyFileText(secretKey, publicKey))).toEqual(secretKey);
    expect(inBrowser(encodeBase64(secretKey))).toEqual(secretKey);
    expect(thrown(() => inBrowser('agent.key')).message).toMatch(/a browser has no files/);
  });
});
