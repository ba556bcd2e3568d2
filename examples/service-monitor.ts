/**
 * The service monitor: a service that follows the beat and shows how it is doing over HTTP.
 *
 *   GET /health      the client's health as JSON: 200 when following the pulse, else 503
 *   GET /debug/vars  expvar-style JSON: { cmdline, memstats, backbeat: client.metrics() }
 *   GET /metrics     Prometheus text, from a prom-client registry
 *
 * Run it against a server that has a pulse:
 *   NATS_URL=nats://localhost:4222 BACKBEAT_CLUSTER=chorus-dev PORT=9464 npx tsx examples/service-monitor.ts
 * With no PORT it listens on a free port and prints the URL.
 */
import { createClient, type BackbeatClient } from '@chorus-services/backbeat';
import { registerBackbeatMetrics } from '@chorus-services/backbeat/prometheus';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';

/** Options of {@link runServiceMonitor}. */
export interface ServiceMonitorOptions {
  natsUrl: string;
  clusterId: string;
  agentId?: string;
  /** The HTTP port; 0 (the default) picks a free one. */
  port?: number;
  /** The HTTP interface; default `127.0.0.1`. */
  host?: string;
  /** Where lines go; `console.log` by default. */
  print?: (line: string) => void;
  /** Short connect timeout for demos; the client's default otherwise. */
  connectTimeoutMs?: number;
}

/** A running service monitor. */
export interface ServiceMonitor {
  client: BackbeatClient;
  registry: Registry;
  /** `http://host:port`, without a trailing slash. */
  url: string;
  stop(): Promise<void>;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(body));
}

/**
 * Answers one request from the client's snapshots.
 *
 * @param client The client to show.
 * @param registry The prom-client registry the client's metrics are in.
 * @return The request handler.
 */
function monitorRoutes(client: BackbeatClient, registry: Registry) {
  return async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    switch (path) {
      case '/health': {
        const health = client.health();
        const following = health.connected && !health.localDegradation;
        sendJson(response, following ? 200 : 503, health);
        return;
      }
      case '/debug/vars':
        sendJson(response, 200, {
          cmdline: process.argv,
          memstats: process.memoryUsage(),
          backbeat: client.metrics(),
        });
        return;
      case '/metrics': {
        const text = await registry.metrics();
        response.writeHead(200, { 'content-type': registry.contentType });
        response.end(text);
        return;
      }
      default:
        sendJson(response, 404, { error: `no route ${path}: try /health, /debug/vars, /metrics` });
    }
  };
}

/**
 * Starts the service monitor: a client following the beat, and its HTTP server.
 *
 * @param options Server, cluster, agent id, HTTP port and host, where to print.
 * @return The monitor, with its URL, to stop.
 */
export async function runServiceMonitor(options: ServiceMonitorOptions): Promise<ServiceMonitor> {
  const print = options.print ?? console.log;
  const agentId = options.agentId ?? `service-monitor-${process.pid}`;
  const client = createClient({
    clusterId: options.clusterId,
    agentId,
    natsUrl: options.natsUrl,
    ...(options.connectTimeoutMs ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
  });
  const registry = new Registry();
  const unregister = registerBackbeatMetrics(client, registry, {
    clusterId: options.clusterId,
    agentId,
  });
  await client.start();

  const routes = monitorRoutes(client, registry);
  const server = createServer((request, response) => {
    routes(request, response).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      if (response.headersSent) response.destroy();
      else sendJson(response, 500, { error: message });
    });
  });
  try {
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
    await once(server, 'listening');
  } catch (error) {
    unregister();
    await client.stop({ timeoutMs: 0 });
    throw error;
  }
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  print(`service monitor on ${url} (/health, /debug/vars, /metrics)`);

  return {
    client,
    registry,
    url,
    async stop() {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
      unregister();
      await client.stop({ timeoutMs: 2000 });
    },
  };
}

if (require.main === module) {
  const natsUrl = process.env.NATS_URL ?? 'nats://localhost:4222';
  const clusterId = process.env.BACKBEAT_CLUSTER ?? 'chorus-dev';
  const port = Number(process.env.PORT ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`PORT must be a port number (0 for any free one), not ${process.env.PORT}`);
    process.exit(2);
  }
  void runServiceMonitor({ natsUrl, clusterId, port, host: process.env.HOST }).then((monitor) => {
    const quit = () => void monitor.stop().then(() => process.exit(0));
    process.once('SIGINT', quit);
    process.once('SIGTERM', quit);
  });
}
