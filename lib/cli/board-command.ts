/**
 * `backbeat board`: serves one static page that watches a cluster live from the browser,
 * through nats-server's WebSocket listener and the SDK's browser build. This process only serves
 * files and the page's settings; it never connects to NATS itself.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { encodeBase64 } from '../crypto/base64';
import type { BoardConfig } from './board-config';
import { CliRuntimeError, CliUsageError, ExitCode, type CliIo } from './cli-io';
import { aborted } from './nats-connection';
import { ownPackage } from './own-package';
import { readTrustedKeysFile } from './trusted-keys-file';

/** The options commander parsed for `board`. */
export interface BoardCommandOptions {
  readonly cluster: string;
  /** nats-server WebSocket URLs (`ws://` or `wss://`), credentials in them if any. */
  readonly nats: readonly string[];
  /** The HTTP port; 0 picks a free one. */
  readonly port: number;
  /** The address to listen on. */
  readonly host: string;
  /** A JSON file of agent id → trusted public key(s); signatures are then required. */
  readonly trustedKeys?: string;
}

/** The page's files and their content types. */
const PAGE_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/board.js': { file: 'board.js', type: 'text/javascript; charset=utf-8' },
  '/board.css': { file: 'board.css', type: 'text/css; charset=utf-8' },
};

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Runs `backbeat board` until the stop signal.
 *
 * @example
 * await runBoard({ cluster: 'dev', nats: ['ws://localhost:8080'], port: 7070, host: '127.0.0.1' }, io); // 0
 * @param io Where to print, the environment (`BACKBEAT_BOARD_ASSETS`: the page's directory,
 * by default the package's dist/board), and the stop signal.
 * @return 0 when stopped by the signal.
 * @throws CliUsageError for a URL that is not WebSocket or a bad trusted keys file;
 * CliRuntimeError when the page is not built or the port cannot be had.
 */
export async function runBoard(options: BoardCommandOptions, io: CliIo): Promise<ExitCode> {
  const config = boardConfig(options);
  const assets =
    io.env.BACKBEAT_BOARD_ASSETS ??
    join(ownPackage(__dirname)?.dir ?? join(__dirname, '..', '..', '..'), 'dist', 'board');
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const [path, { file, type }] of Object.entries(PAGE_FILES)) {
    try {
      files.set(path, { body: readFileSync(join(assets, file)), type });
    } catch {
      throw new CliRuntimeError(
        `the board page is not built (${join(assets, file)} is missing): run npm run build`,
      );
    }
  }
  const configBody = Buffer.from(JSON.stringify(config));
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? '/', 'http://board').pathname;
    const page =
      path === '/config.json' ? { body: configBody, type: 'application/json' } : files.get(path);
    if (request.method !== 'GET' || page === undefined) {
      response.writeHead(request.method === 'GET' ? 404 : 405).end();
      return;
    }
    response
      .writeHead(200, { 'content-type': page.type, 'cache-control': 'no-store' })
      .end(page.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        new CliRuntimeError(`cannot listen on ${options.host}:${options.port}: ${error.message}`),
      ),
    );
    server.listen(options.port, options.host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  io.stdout.write(
    `backbeat board: http://${host}:${port}/ (cluster ${config.clusterId}, NATS ${config.servers.join(',')})\n`,
  );
  if ((config.user !== undefined || config.token !== undefined) && !LOOPBACK.has(options.host)) {
    io.stderr.write(
      'backbeat board: warning: the page hands its NATS credentials to every browser that loads it; give it a read-only user\n',
    );
  }
  await aborted(io.signal);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  return ExitCode.Ok;
}

/** The page's settings: WebSocket URLs without credentials, the credentials apart, the keys. */
export function boardConfig(options: BoardCommandOptions): BoardConfig {
  let credentials: Pick<BoardConfig, 'user' | 'pass' | 'token'> = {};
  const servers = options.nats.map((text) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new CliUsageError(`--nats ${text}: not a URL`);
    }
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
      throw new CliUsageError(
        `--nats ${text}: the page connects over WebSocket: give nats-server's websocket listener, e.g. ws://localhost:8080 (websocket { port: 8080, no_tls: true } in its config)`,
      );
    }
    if (url.username !== '') {
      const user = decodeURIComponent(url.username);
      credentials =
        url.password === '' ? { token: user } : { user, pass: decodeURIComponent(url.password) };
      url.username = '';
      url.password = '';
    }
    return url.href.replace(/\/$/, '');
  });
  const trusted =
    options.trustedKeys === undefined ? undefined : readTrustedKeysFile(options.trustedKeys);
  return {
    clusterId: options.cluster,
    servers,
    ...credentials,
    ...(trusted !== undefined && {
      trustedKeys: Object.fromEntries(
        Object.entries(trusted).map(([agent, keys]) => [
          agent,
          (Array.isArray(keys) ? keys : [keys]).map((key: Uint8Array | string) =>
            typeof key === 'string' ? key : encodeBase64(key),
          ),
        ]),
      ),
    }),
  };
}
