/**
 * `backbeat board`'s settings for its page, and its usage errors. The page itself runs in
 * spec/browser/board.spec.ts (npm run test:browser).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boardConfig } from '../../lib/cli/board-command';
import { CliUsageError } from '../../lib/cli/cli-io';
import { runCli } from './cli-harness';

const options = { cluster: 'dev', port: 0, host: '127.0.0.1' };

describe('backbeat board', () => {
  it('hands the page WebSocket URLs without credentials, and the credentials apart', () => {
    expect(boardConfig({ ...options, nats: ['ws://board:s3cr%40t@nats.example:8080'] })).toEqual({
      clusterId: 'dev',
      servers: ['ws://nats.example:8080'],
      user: 'board',
      pass: 's3cr@t',
    });
    expect(boardConfig({ ...options, nats: ['wss://t0ken@a:443', 'wss://b'] })).toEqual({
      clusterId: 'dev',
      servers: ['wss://a', 'wss://b'],
      token: 't0ken',
    });
  });

  it('hands the page the trusted keys as base64', () => {
    const dir = mkdtempSync(join(tmpdir(), 'board-keys-'));
    try {
      const key = '11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=';
      writeFileSync(join(dir, 'keys.json'), JSON.stringify({ a: key, b: [key] }));
      const config = boardConfig({
        ...options,
        nats: ['ws://x'],
        trustedKeys: join(dir, 'keys.json'),
      });
      expect(config.trustedKeys).toEqual({ a: [key], b: [key] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a NATS URL the browser cannot use', () => {
    expect(() => boardConfig({ ...options, nats: ['nats://localhost:4222'] })).toThrow(
      CliUsageError,
    );
    expect(() => boardConfig({ ...options, nats: ['nats://localhost:4222'] })).toThrow(/WebSocket/);
    expect(() => boardConfig({ ...options, nats: ['not a url'] })).toThrow(/not a URL/);
  });

  it('exits 2 with the hint when --nats is not WebSocket, and 1 when the page is not built', async () => {
    const wrong = runCli(['board', '--cluster', 'dev', '--nats', 'nats://localhost:4222']);
    expect(await wrong.code).toBe(2);
    expect(wrong.stderr.text).toMatch(/websocket \{ port: 8080, no_tls: true \}/);
    const unbuilt = runCli(
      ['board', '--cluster', 'dev', '--nats', 'ws://localhost:8080', '--port', '0'],
      {
        BACKBEAT_BOARD_ASSETS: join(tmpdir(), 'no-such-board-page'),
      },
    );
    expect(await unbuilt.code).toBe(1);
    expect(unbuilt.stderr.text).toMatch(/not built.*npm run build/);
  });
});
