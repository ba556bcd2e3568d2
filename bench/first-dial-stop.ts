/**
 * stop() during a first dial: the SDK's own first-dial loop (NatsLink) against nats.js's
 * `waitOnFirstConnect`, on a silent host (accepts TCP, never sends INFO) or a refusing one
 * (accepts and resets at once). Each run stops 500 ms into the dial, then reports how long the
 * stop took, whether the first dial settled, the dials made after the stop, the sockets left
 * open at the host, and when the process exited by itself (null: it had not 10 s after the stop,
 * and it never will: nats.js keeps dialling).
 *
 * Run: npx tsx bench/first-dial-stop.ts sdk|nats silent|refusing
 * (one scenario per process: only an exit of the process shows that nothing outlived the stop;
 * with `nats`, end it yourself, e.g. `timeout 20 npx tsx bench/first-dial-stop.ts nats silent`).
 */
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { connect } from 'nats';
import type { Logger } from '../lib/observability/logger';
import { NatsLink } from '../lib/transport/nats-link';

const [who = 'sdk', kind = 'silent'] = process.argv.slice(2);
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const STOP_AFTER_MS = 500;
const REPORT_AFTER_MS = 10_000;

async function main(): Promise<void> {
  let accepted = 0;
  const open = new Set<Socket>();
  const host = createServer((socket) => {
    accepted++;
    socket.on('error', () => undefined);
    // The host's side of a held socket must not keep this process alive.
    socket.unref();
    if (kind === 'refusing') return void socket.resetAndDestroy();
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  });
  host.listen(0, '127.0.0.1');
  await once(host, 'listening');
  host.unref();
  const url = `nats://127.0.0.1:${(host.address() as { port: number }).port}`;

  const startedAt = performance.now();
  const since = (): string => `${(performance.now() - startedAt).toFixed(0)} ms`;
  let settled: string | null = null;
  let stop: () => Promise<void>;
  if (who === 'sdk') {
    const link = NatsLink.dial({
      servers: [url],
      connectTimeoutMs: 2000,
      reconnectDelayMs: 100,
      maxReconnectDelayMs: 2000,
      maxReconnects: -1,
      pingIntervalMs: 30_000,
      maxPingsOut: 2,
      natsOptions: {},
      logger: quiet,
    });
    void link.open().then((outcome) => (settled ??= `${outcome} after ${since()}`));
    stop = () => link.close(100);
  } else {
    connect({ servers: url, timeout: 2000, waitOnFirstConnect: true, reconnectTimeWait: 100 }).then(
      (nc) => {
        settled = `connected after ${since()}`;
        void nc.close();
      },
      (err: unknown) => (settled = `rejected after ${since()}: ${String(err)}`),
    );
    // nats.js gives no handle before it connects: a stop() can only stop waiting.
    stop = () => Promise.resolve();
  }

  await new Promise((resolve) => setTimeout(resolve, STOP_AFTER_MS));
  const stoppedAt = performance.now();
  await stop();
  const stopMs = performance.now() - stoppedAt;
  const acceptedAtStop = accepted;
  const report = (exitedMsAfterStop: number | null): void =>
    console.log(
      JSON.stringify({
        who,
        kind,
        stopMs: Number(stopMs.toFixed(1)),
        firstDialSettled: settled,
        dialsAfterStop: accepted - acceptedAtStop,
        socketsOpenAtHost: open.size,
        exitedMsAfterStop,
      }),
    );
  setTimeout(() => report(null), REPORT_AFTER_MS).unref();
  process.on('exit', () => {
    const after = performance.now() - stoppedAt;
    if (after < REPORT_AFTER_MS) report(Math.round(after));
  });
}

void main();
