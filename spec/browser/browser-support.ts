/**
 * What the browser specs share: a nats-server with its WebSocket listener, a headless Chromium
 * driven by playwright-core (Debian's, found or installed by scripts/chromium-bin.js; never a
 * downloaded one), a static file server for test pages, and the folder screenshots go to.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_ARGS, ensureChromium } from '../../scripts/chromium-bin';
import { freePorts, startNatsServer, type NatsServerHandle } from '../support/nats-server';

/** A nats-server with a WebSocket listener (`websocket { no_tls: true }`) on a free port. */
export async function startWebSocketNats(): Promise<{ server: NatsServerHandle; wsUrl: string }> {
  const [wsPort] = await freePorts(1);
  const server = await startNatsServer({
    config: `websocket { host: 127.0.0.1, port: ${wsPort}, no_tls: true }`,
  });
  return { server, wsUrl: `ws://127.0.0.1:${wsPort}` };
}

/**
 * A headless Chromium. Without one (and no way to install it) this fails with the install hint:
 * the browser specs never skip.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: ensureChromium(),
    args: [...CHROMIUM_ARGS],
    headless: true,
  });
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** Serves a directory's files on the loopback (a page from http://127.0.0.1 has WebCrypto). */
export async function serveDirectory(
  dir: string,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    const file = path === '/' ? 'index.html' : path.slice(1);
    try {
      if (file.includes('..') || file.includes('/')) throw new Error('outside');
      const body = readFileSync(join(dir, file));
      response.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The browser specs' output folder (screenshots): test-output/browser, made on demand. */
export function outputDir(): string {
  const dir = join(__dirname, '..', '..', 'test-output', 'browser');
  mkdirSync(dir, { recursive: true });
  return dir;
}
