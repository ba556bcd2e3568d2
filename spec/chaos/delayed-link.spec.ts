/**
 * A slow, jittery link: the TCP proxy delays every chunk by 50–300 ms (order kept). With
 * `jitterToleranceMs: 400` the client must not degrade falsely, deliver no index twice and none
 * out of order, and its claims must reach an observer in order.
 */
import type { Msg, NatsConnection } from 'nats';
import { from, lastValueFrom, toArray } from 'rxjs';
import { createClient, type BackbeatClient } from '../../lib/client';
import { verifyStatus } from '../../lib/operators/verify-status';
import { statusSubject } from '../../lib/protocol/subjects';
import { startPulse, type Pulse } from '../../lib/pulse/pulse';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { collect, rawConnection, record } from '../client/client-support';
import { logBeats, reportFigures } from './chaos-support';

const CLUSTER = 'chaos-delayed-link';
const TEMPO_BPM = 120; // a 500 ms period: the delay's spread (250 ms) stays under the tolerance
const BEATS = 24;

async function reasons(messages: readonly Msg[]): Promise<Record<string, number>> {
  const verdicts = await lastValueFrom(
    from(messages).pipe(verifyStatus({ requireSignature: false }), toArray()),
  );
  const counts: Record<string, number> = {};
  for (const verdict of verdicts) {
    const key = verdict.ok ? 'ok' : verdict.reason;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

describe('every chunk delayed by 50–300 ms', () => {
  let server: NatsServerHandle;
  let proxy: TcpProxy;
  let pulse: Pulse;
  let observer: NatsConnection;
  let client: BackbeatClient;

  afterAll(async () => {
    await client?.stop({ timeoutMs: 0 });
    await proxy?.close();
    await pulse?.stop();
    await observer?.close();
    await server?.stop();
  });

  it('follows the pulse without false degradation, no index twice, none out of order', async () => {
    server = await startNatsServer();
    proxy = await startTcpProxy({ targetPort: server.port });
    proxy.setDelay(50, 300);
    pulse = await startPulse({ natsUrl: server.url, clusterId: CLUSTER, tempoBpm: TEMPO_BPM });
    observer = await rawConnection(server.url);
    const claims = collect(observer, statusSubject(CLUSTER, 'slow-link'));
    await observer.flush();

    client = createClient({
      clusterId: CLUSTER,
      agentId: 'slow-link',
      natsUrl: proxy.url,
      jitterToleranceMs: 400,
    });
    const log = logBeats(client.beat$);
    const health = record(client.health$);
    const firstPulseBeat = log.next((beat) => beat.source === 'pulse');
    await client.start();
    const first = await firstPulseBeat;
    let sent = 0;
    const emitting = client.onBeat(() => {
      void client
        .emitStatusClaim({ state: 'executing', beatsLeft: 1, progress: 0.5 })
        .then(() => sent++);
    });
    await log.next((beat) => beat.index >= first.index + BEATS);
    emitting.unsubscribe();
    await client.flush();
    await observer.flush();

    const followed = log.beats.slice(log.beats.indexOf(first));
    const indexes = followed.map((beat) => beat.index);
    const steps = indexes.slice(1).map((index, i) => index - indexes[i]);
    const counts = await reasons(claims.messages);
    reportFigures('delayed-link', {
      beats: followed.length,
      synthetic: followed.filter((beat) => beat.source !== 'pulse').length,
      steps: [...new Set(steps)],
      degradedEver: health.values.some((value) => value.localDegradation),
      jitterMs: client.metrics().beats.jitterMs,
      claimsSent: sent,
      verdicts: counts,
    });
    log.stop();
    health.stop();

    expect(followed.every((beat) => beat.source === 'pulse')).toBe(true);
    expect(health.values.filter((value) => value.localDegradation)).toEqual([]);
    // No index twice, none out of order, none skipped.
    expect(steps.every((step) => step === 1)).toBe(true);
    expect(counts).toEqual({ ok: claims.messages.length });
    expect(claims.messages.length).toBe(sent);
  });
});
