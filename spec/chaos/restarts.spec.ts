/**
 * Ten crashes of the only nats-server (SIGKILL) and restarts on the same port, with beats and
 * claims flowing: the client must reconnect by itself each time, keep time on synthetic beats
 * from the moment the pulse is overdue, go back to the pulse, and never end `beat$`.
 */
import type { NatsConnection } from 'nats';
import { firstValueFrom, from, toArray } from 'rxjs';
import { createClient, type BackbeatClient } from '../../lib/client';
import { generateSigningKey } from '../../lib/crypto/keys';
import { verifyStatus } from '../../lib/operators/verify-status';
import { statusSubject } from '../../lib/protocol/subjects';
import { startPulse, type Pulse } from '../../lib/pulse/pulse';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';
import { clientHasSeen, collect, healthWhere, rawConnection } from '../client/client-support';
import {
  logBeats,
  parsed,
  reportFigures,
  timelineViolations,
  type LoggedBeat,
} from './chaos-support';

const CLUSTER = 'chaos-restarts';
const TEMPO_BPM = 600; // a 100 ms period: an outage spans a few synthetic beats
const PERIOD_MS = 60_000 / TEMPO_BPM;
const TOLERANCE_MS = 100;
const RESTARTS = 10;

describe('ten server crashes with beats and claims flowing', () => {
  let server: NatsServerHandle;
  let pulse: Pulse;
  let client: BackbeatClient;
  let observer: NatsConnection;

  afterAll(async () => {
    await client?.stop({ timeoutMs: 0 });
    await pulse?.stop();
    await observer?.close();
    await server?.stop();
  });

  it('reconnects by itself every time, degrades on each outage, and keeps one timeline', async () => {
    server = await startNatsServer();
    pulse = await startPulse({ natsUrl: server.url, clusterId: CLUSTER, tempoBpm: TEMPO_BPM });
    observer = await rawConnection(server.url);
    const claimsSeen = collect(observer, statusSubject(CLUSTER, 'survivor'));
    await observer.flush();

    const key = generateSigningKey();
    client = createClient({
      clusterId: CLUSTER,
      agentId: 'survivor',
      natsUrl: server.url,
      signingKey: key.secretKey,
      jitterToleranceMs: TOLERANCE_MS,
      reconnectDelayMs: 50,
      maxReconnectDelayMs: 250,
    });
    const log = logBeats(client.beat$);
    // When each pulse beat was due by the pulse's own clock: its deadline_at less one period.
    const pulseDueAt = new Map<number, number>();
    client.beat$.subscribe((beat) => {
      if (beat.source === 'pulse') {
        pulseDueAt.set(beat.beat_index, Date.parse(beat.deadline_at) - PERIOD_MS);
      }
    });
    const claimFailures: unknown[] = [];
    let claimsEmitted = 0;
    // A claim on every beat, whatever its source: claims flow through every outage.
    const emitting = client.onBeat(() => {
      claimsEmitted++;
      client
        .emitStatusClaim({ state: 'executing', beatsLeft: 4, progress: 0.5 })
        .catch((error: unknown) => claimFailures.push(error));
    });

    const firstPulseBeat = log.next((beat) => beat.source === 'pulse');
    await client.start();
    await firstPulseBeat;

    /** Wall-clock gaps before each degradation: reported, not judged (they carry the load). */
    const degradationDelays: number[] = [];
    const delaysSinceDue: number[] = [];
    for (let restart = 1; restart <= RESTARTS; restart++) {
      await log.next((beat) => beat.source === 'pulse');
      const firstSynthetic = log.next((beat) => beat.source === 'synthetic');
      await server.kill();
      const synthetic = await firstSynthetic;
      const lastPulse = lastBefore(log.beats, synthetic, (beat) => beat.source === 'pulse');
      degradationDelays.push(synthetic.receivedAtMs - lastPulse.receivedAtMs);
      delaysSinceDue.push(synthetic.receivedAtMs - pulseDueAt.get(lastPulse.index)!);
      expect(synthetic.index).toBe(lastPulse.index + 1);

      await server.restart();
      await healthWhere(client, (h) => h.connected && h.reconnectCount === restart);
      // The pulse has reconnected too when its beats reach the client again; let a few through.
      await log.next((beat) => beat.source === 'pulse');
      await log.next((beat) => beat.source === 'pulse');
      expect(client.health().localDegradation).toBe(false);
    }

    expect(timelineViolations(log.beats)).toEqual([]);
    const metrics = client.metrics();
    expect(metrics.connection.reconnects).toBe(RESTARTS);
    expect(metrics.connection.connected).toBe(1);
    expect(metrics.errors.total).toBe(0);
    expect(client.health()).toMatchObject({
      connected: true,
      reconnectCount: RESTARTS,
      reason: null,
    });
    expect(metrics.beats.timelineResets).toBe(log.beats.filter((b) => b.timelineReset).length);
    expect(metrics.beats.synthetic).toBeGreaterThanOrEqual(RESTARTS);
    expect(log.ended).toEqual({ completed: false });

    // Claims: none failed or dropped; what reached the observer is each claim once, in order,
    // genuine; and the last one, emitted after the last restart, arrived (no beat claims after it).
    emitting.unsubscribe();
    const last = await client.emitStatusClaim({ state: 'done', beatsLeft: 0, progress: 1 });
    await clientHasSeen(observer, client);
    await observer.flush();
    expect(claimFailures).toEqual([]);
    expect(client.metrics().status).toMatchObject({ errors: 0, dropped: 0, buffered: 0 });
    const seen = claimsSeen.messages;
    expect(parsed(seen[seen.length - 1].data).hlc).toBe(last.hlc);
    const verdicts = await firstValueFrom(
      from(seen).pipe(verifyStatus({ trustedKeys: { survivor: key.publicKey } }), toArray()),
    );
    expect(verdicts.filter((verdict) => !verdict.ok)).toEqual([]);
    expect(seen.length).toBeGreaterThan(claimsEmitted / 2);
    reportFigures('restarts', {
      degradationDelays,
      delaysSinceDue,
      claimsEmitted,
      claimsSeen: seen.length,
      beats: log.beats.length,
      synthetic: metrics.beats.synthetic,
      missed: metrics.beats.missed,
      resets: metrics.beats.timelineResets,
    });

    await client.stop();
    expect(log.ended).toEqual({ completed: true });
  });
});

/** The last logged beat before `beat` that satisfies `predicate`. */
function lastBefore(
  beats: readonly LoggedBeat[],
  beat: LoggedBeat,
  predicate: (beat: LoggedBeat) => boolean,
): LoggedBeat {
  for (let i = beats.lastIndexOf(beat) - 1; i >= 0; i--) {
    if (predicate(beats[i])) return beats[i];
  }
  throw new Error('no such beat before it');
}
