/**
 * JetStream delivery through crashes: 10,000 claims emitted by a client with `statusDelivery:
 * 'jetstream'` while its only nats-server is killed (SIGKILL) and restarted four times in the
 * flow. Every claim must be acknowledged, and the file-stored stream, read back, must hold each
 * exactly once, in emission order.
 */
import type { NatsConnection } from 'nats';
import { createClient, type BackbeatClient } from '../../lib/client';
import type { StatusClaim } from '../../lib/protocol/status-claim';
import { statusStreamName } from '../../lib/protocol/subjects';
import { ensureStatusStream } from '../../lib/transport/ensure-status-stream';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';
import { rawConnection } from '../client/client-support';
import { Counter, parsed, pollServer, readStatusStream, reportFigures } from './chaos-support';

const CLUSTER = 'chaos-jetstream';
const CLAIMS = 10_000;
const BATCHES = 5;
const PER_BATCH = CLAIMS / BATCHES;

describe('JetStream delivery across server crashes', () => {
  let server: NatsServerHandle;
  let admin: NatsConnection;
  let client: BackbeatClient;

  afterAll(async () => {
    await client?.stop({ timeoutMs: 0 });
    await admin?.close();
    await server?.stop();
  });

  it('stores each of 10,000 claims exactly once, in order, through four kill -9 in the flow', async () => {
    server = await startNatsServer({ jetstream: true });
    admin = await rawConnection(server.url);
    await expect(ensureStatusStream(admin, CLUSTER)).resolves.toMatchObject({ created: true });
    const { config } = await (
      await admin.jetstreamManager()
    ).streams.info(statusStreamName(CLUSTER));
    expect(config.storage).toBe('file');

    client = createClient({
      clusterId: CLUSTER,
      agentId: 'writer',
      natsUrl: server.url,
      statusDelivery: 'jetstream',
      // Room for every claim: none may be dropped while the server is down.
      statusBufferSize: CLAIMS,
      reconnectDelayMs: 50,
      maxReconnectDelayMs: 250,
      // No pulse: synthetic beats at 600 BPM give claims their beat at once.
      fallbackTempoBpm: 600,
    });
    await client.start();

    const acknowledged = new Counter();
    const failures: unknown[] = [];
    const sent: Promise<StatusClaim>[] = [];
    const emitBatch = (batch: number) => {
      for (let i = 0; i < PER_BATCH; i++) {
        const n = batch * PER_BATCH + i;
        const claim = client.emitStatusClaim({
          taskId: `task-${n}`,
          state: 'executing',
          beatsLeft: CLAIMS - n,
          progress: n / CLAIMS,
          notes: `claim ${n}`,
        });
        claim.then(
          () => acknowledged.add(),
          (error: unknown) => failures.push(error),
        );
        sent.push(claim);
      }
    };

    // The first batch goes out; then, four times: kill the server once half of the claims
    // emitted so far are acknowledged, emit the next batch while it is down, restart it on the
    // same port and store.
    emitBatch(0);
    for (let batch = 1; batch < BATCHES; batch++) {
      await acknowledged.reach((batch - 1) * PER_BATCH + PER_BATCH / 2);
      expect(acknowledged.value).toBeLessThan(batch * PER_BATCH);
      await server.kill();
      emitBatch(batch);
      await server.restart();
    }
    const claims = await Promise.all(sent);
    expect(failures).toEqual([]);
    expect(acknowledged.value).toBe(CLAIMS);
    const status = client.metrics().status;
    expect(status).toMatchObject({ emitted: CLAIMS, dropped: 0, buffered: 0 });
    expect(client.metrics().connection.reconnects).toBeGreaterThanOrEqual(2);

    // The stream, read back: every claim once, byte for byte what was acknowledged, in order.
    await pollServer('JetStream after the last restart', async () =>
      (await admin.jetstreamManager()).streams.info(statusStreamName(CLUSTER)),
    );
    const stored = await readStatusStream(admin, CLUSTER);
    expect(stored).toHaveLength(CLAIMS);
    const msgIds = new Set(stored.map((m) => m.headers?.get('Nats-Msg-Id')));
    const stamps = new Set(stored.map((m) => parsed(m.data).hlc));
    expect(msgIds.size).toBe(CLAIMS);
    expect(stamps.size).toBe(CLAIMS);
    expect(stored.map((m) => parsed(m.data))).toEqual(claims);
    for (const m of stored) {
      expect(m.headers?.get('Nats-Msg-Id')).toBe(`writer:${String(parsed(m.data).hlc)}`);
    }
    reportFigures('jetstream-delivery', {
      claims: CLAIMS,
      stored: stored.length,
      retries: status.retries,
      errors: status.errors,
      reconnects: client.metrics().connection.reconnects,
    });
  });
});
