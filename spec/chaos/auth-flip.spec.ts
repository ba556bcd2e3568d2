/**
 * Authorization errors on reconnect are retried like any other failure: the only server is
 * restarted with auth (the client, which has no credentials, is refused on every reconnect), then
 * again without it; the client must be back on the pulse within its backoff, having shown the
 * refusal in `health().reason` and logged it. nats.js alone closes for good on the second
 * authorization error in a row.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type NatsConnection } from 'nats';
import { createClient, type BackbeatClient } from '../../lib/client';
import { startPulse, type Pulse } from '../../lib/pulse/pulse';
import {
  authorizationConfig,
  startNatsServer,
  type NatsServerHandle,
} from '../support/nats-server';
import { healthWhere, recordingLogger } from '../client/client-support';
import { logBeats, reportFigures } from './chaos-support';

const CLUSTER = 'chaos-auth-flip';
const TOKEN = 'flip-s3cret';
const RECONNECT_DELAY_MS = 50;
const MAX_RECONNECT_DELAY_MS = 250;

describe('a server restarted with auth, then without', () => {
  let server: NatsServerHandle;
  let pulseConnection: NatsConnection;
  let pulse: Pulse;
  let client: BackbeatClient;

  afterAll(async () => {
    await client?.stop({ timeoutMs: 0 });
    await pulse?.stop();
    await pulseConnection?.close();
    await server?.stop();
  });

  it('keeps reconnecting through authorization errors and is back on the pulse within the backoff', async () => {
    server = await startNatsServer();
    const openConfig = readFileSync(server.configFile, 'utf8');
    // The pulse holds the token: a server without auth ignores it, one with auth accepts it.
    pulseConnection = await connect({
      servers: server.url,
      token: TOKEN,
      reconnectTimeWait: 50,
      maxReconnectAttempts: -1,
    });
    pulse = await startPulse({ connection: pulseConnection, clusterId: CLUSTER, tempoBpm: 600 });
    const logger = recordingLogger();
    client = createClient({
      clusterId: CLUSTER,
      agentId: 'auth-flipped',
      natsUrl: server.url,
      reconnectDelayMs: RECONNECT_DELAY_MS,
      maxReconnectDelayMs: MAX_RECONNECT_DELAY_MS,
      logger,
    });
    const log = logBeats(client.beat$);
    const firstPulseBeat = log.next((beat) => beat.source === 'pulse');
    await client.start();
    await firstPulseBeat;

    const refused = healthWhere(client, (h) => /authorization/i.test(h.reason ?? ''));
    writeFileSync(server.configFile, `${openConfig}${authorizationConfig({ token: TOKEN })}\n`);
    await server.restart();
    const refusedHealth = await refused;
    // Several refusals in a row: nats.js alone would have closed the connection by now.
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        const count = logger.lines('warn', 'refused the reconnect').length;
        if (count >= 3) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    expect(client.health().connected).toBe(false);

    writeFileSync(server.configFile, openConfig);
    const backOnPulse = log.next((beat) => beat.source === 'pulse');
    const reconnected = healthWhere(client, (h) => h.connected);
    await server.restart();
    const openAt = performance.now();
    await reconnected;
    const reconnectedAfterMs = performance.now() - openAt;
    await backOnPulse;
    const backOnPulseAfterMs = performance.now() - openAt;
    reportFigures('auth-flip', {
      reasonWhileRefused: refusedHealth.reason,
      refusalsLogged: logger.lines('warn', 'refused the reconnect').length,
      reconnectedAfterMs: Math.round(reconnectedAfterMs),
      backOnPulseAfterMs: Math.round(backOnPulseAfterMs),
      reconnects: client.health().reconnectCount,
    });
    log.stop();

    expect(client.health().reason).toBeNull();
    // One outage, one reconnection (nats.js reports one per refused dial).
    expect(client.health().reconnectCount).toBe(1);
    // Within the backoff's cap (+20 % jitter) plus one dial and the pulse's next frames: the
    // bound only fails if the client waited on something else (it had given up, or slept long).
    expect(reconnectedAfterMs).toBeLessThan(MAX_RECONNECT_DELAY_MS * 1.2 + 2000);
  });
});
