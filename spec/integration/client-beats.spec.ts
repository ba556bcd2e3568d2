/**
 * What the client makes of the beat subject on a real nats-server (issue 4): bad frames among a
 * live pulse, pulse silence and return, a second pulse, signed pulses, legacy frames.
 */
import type { NatsConnection } from 'nats';
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { generateSigningKey } from '../../lib/crypto/keys';
import { FRAME_REJECT_REASONS } from '../../lib/protocol/judge';
import { legacyToBeatIndex } from '../../lib/protocol/legacy';
import type { NatsServerHandle } from '../support/nats-server';
import {
  beatFrame,
  clientHasSeen,
  healthWhere,
  json,
  makeClient,
  makePulse,
  nextBeat,
  publishFrame,
  record,
  recordingLogger,
  signatureHeaders,
  useLiveServer,
} from '../client/client-support';

/** Every rejection reason at zero, with `counts` over it. */
function rejected(counts: Record<string, number>): Record<string, number> {
  const zero = Object.fromEntries(
    [...FRAME_REJECT_REASONS, 'other-pulse', 'stale-frame', 'hlc-skew'].map((reason) => [
      reason,
      0,
    ]),
  );
  return { ...zero, ...counts };
}

describe('client beats on a live nats-server', () => {
  let server: NatsServerHandle;
  let raw: NatsConnection;
  useLiveServer((live) => ({ server, raw } = live));

  it('counts each bad frame under its reason while valid beats keep flowing', async () => {
    const cluster = 'beats-bad';
    const logger = recordingLogger();
    const pulse = await makePulse({ natsUrl: server.url, clusterId: cluster, tempoBpm: 1200 });
    const client = makeClient({ clusterId: cluster, agentId: 'a', natsUrl: server.url, logger });
    await client.start();
    await nextBeat(client, (beat) => beat.source === 'pulse');
    const delivered = record(client.beat$);

    const bad = (overrides: Record<string, unknown>) =>
      json(beatFrame(cluster, 'intruder', 7, overrides));
    publishFrame(raw, cluster, json({ ...beatFrame(cluster, 'x', 7), pad: 'x'.repeat(5000) }));
    publishFrame(raw, cluster, new TextEncoder().encode('{"type": not json'));
    publishFrame(raw, cluster, json({ bar: 2, beat: 1 }));
    publishFrame(raw, cluster, bad({ tempo_bpm: 0 }));
    publishFrame(raw, cluster, bad({ beat_index: -1 }));
    publishFrame(raw, cluster, bad({ cluster_id: 'elsewhere' }));
    publishFrame(raw, cluster, bad({ downbeat: true }));
    publishFrame(raw, cluster, bad({ phase: 'degraded' }));
    // The followed pulse's own id, an index already delivered, a stamp an hour ahead: not a new
    // beat, counted as hlc-skew.
    const ahead = Date.now() + 3_600_000;
    const skewed = `${ahead.toString(16).padStart(12, '0')}:0000:${pulse.pulseId}`;
    publishFrame(
      raw,
      cluster,
      json(
        beatFrame(cluster, pulse.pulseId, client.getCurrentBeat(), {
          hlc: skewed,
          tempo_bpm: 1200,
        }),
      ),
    );
    await clientHasSeen(raw, client);

    expect(client.metrics().beats.rejected).toEqual(
      rejected({
        'too-large': 1,
        'not-json': 1,
        'legacy-off': 1,
        schema: 2,
        'other-cluster': 1,
        inconsistent: 1,
        'reserved-phase': 1,
        'hlc-skew': 1,
      }),
    );
    // Logged, rate-limited per reason: one line for each reason here.
    const reasons = logger
      .lines('warn', 'beat frame')
      .map((entry) => (entry.fields as { reason: string }).reason);
    expect(new Set(reasons)).toEqual(
      new Set([
        'too-large',
        'not-json',
        'legacy-off',
        'schema',
        'other-cluster',
        'inconsistent',
        'reserved-phase',
        'hlc-skew',
      ]),
    );
    // The pulse goes on: three more of its beats, in order, nothing from the bad frames.
    const last = client.getCurrentBeat();
    await nextBeat(client, (beat) => beat.source === 'pulse' && beat.beat_index >= last + 3);
    const pulseIds = delivered.values.map((beat) => beat.pulse_id);
    expect(pulseIds).not.toContain('intruder');
    expect(pulseIds).not.toContain('x');
    expect(client.metrics().beats.received).toBeGreaterThanOrEqual(9 + 3);
    await client.stop();
    await pulse.stop();
  });

  it('degrades when the pulse falls silent and recovers on the next pulse (timeline rules)', async () => {
    const cluster = 'beats-silence';
    const first = await makePulse({ natsUrl: server.url, clusterId: cluster, tempoBpm: 1200 });
    const client = makeClient({ clusterId: cluster, agentId: 'a', natsUrl: server.url });
    await client.start();
    const pulseBeat = await nextBeat(
      client,
      (beat) => beat.source === 'pulse' && beat.beat_index >= 5,
    );
    expect(pulseBeat.timelineReset).toBe(false);
    const healths = record(client.health$);

    // Silence: synthetic beats continue the indexes, health says so and health$ tells it.
    const synthetic = firstValueFrom(
      client.beat$.pipe(
        filter((beat) => beat.source === 'synthetic'),
        take(2),
        toArray(),
      ),
    );
    await first.stop();
    const [s1, s2] = await synthetic;
    expect(s1.beat_index).toBeGreaterThan(pulseBeat.beat_index);
    // Strictly increasing: synthetic slots a loaded machine's event loop let pass are skipped.
    expect(s2.beat_index).toBeGreaterThan(s1.beat_index);
    expect(s1).toMatchObject({ phase: 'degraded', pulse_id: 'a', tempo_bpm: 1200 });
    expect(client.health().localDegradation).toBe(true);
    expect(healths.values.at(-1)?.localDegradation).toBe(true);

    // A new pulse far below the last index: a new timeline, delivered whatever its index.
    const resetsBefore = client.metrics().beats.timelineResets;
    const second = await makePulse({ natsUrl: server.url, clusterId: cluster, tempoBpm: 1200 });
    const reset = await nextBeat(client, (beat) => beat.source === 'pulse');
    expect(reset).toMatchObject({ pulse_id: second.pulseId, beat_index: 0, timelineReset: true });
    expect(client.metrics().beats.timelineResets).toBe(resetsBefore + 1);
    await healthWhere(client, (health) => !health.localDegradation);
    expect(healths.values.at(-1)?.localDegradation).toBe(false);
    const next = await nextBeat(client, (beat) => beat.source === 'pulse');
    expect(next.timelineReset).toBe(false);

    // Silent again; a pulse far ahead is no new timeline: the gap is counted as missed.
    await second.stop();
    await nextBeat(client, (beat) => beat.source === 'synthetic');
    const missedBefore = client.metrics().beats.missed;
    const third = await makePulse({
      natsUrl: server.url,
      clusterId: cluster,
      tempoBpm: 1200,
      startIndex: 1000,
    });
    const ahead = await nextBeat(client, (beat) => beat.source === 'pulse');
    expect(ahead).toMatchObject({
      pulse_id: third.pulseId,
      beat_index: 1000,
      timelineReset: false,
    });
    expect(ahead.missedBefore).toBeGreaterThan(900);
    expect(client.metrics().beats.missed).toBe(missedBefore + ahead.missedBefore);
    expect(client.metrics().beats.timelineResets).toBe(resetsBefore + 1);
    await client.stop();
    await third.stop();
  });

  it('follows one pulse and counts the frames of a second one as other-pulse', async () => {
    const cluster = 'beats-two';
    // 600 BPM: a 200 ms silence (period + tolerance) would release the lock; none comes here.
    const followed = await makePulse({ natsUrl: server.url, clusterId: cluster, tempoBpm: 600 });
    const client = makeClient({ clusterId: cluster, agentId: 'a', natsUrl: server.url });
    await client.start();
    await nextBeat(client, (beat) => beat.source === 'pulse');
    const delivered = record(client.beat$);
    const other = await makePulse({ connection: raw, clusterId: cluster, tempoBpm: 600 });
    await clientHasSeen(raw, client);
    expect(client.metrics().beats.rejected['other-pulse']).toBeGreaterThanOrEqual(1);
    const last = client.getCurrentBeat();
    await nextBeat(client, (beat) => beat.beat_index >= last + 3);
    expect(delivered.values.map((beat) => beat.pulse_id)).not.toContain(other.pulseId);
    expect(delivered.values.every((beat) => beat.pulse_id === followed.pulseId)).toBe(true);
    await other.stop();
    await client.stop();
    await followed.stop();
    expect(raw.isClosed()).toBe(false);
  });

  it('takes beats only from trusted pulse keys', async () => {
    const cluster = 'beats-signed';
    const trusted = generateSigningKey();
    const untrusted = generateSigningKey();
    const client = makeClient({
      clusterId: cluster,
      agentId: 'a',
      natsUrl: server.url,
      trustedPulseKeys: [trusted.publicKey],
    });
    await client.start();
    const delivered = record(client.beat$);

    const stranger = await makePulse({
      connection: raw,
      clusterId: cluster,
      tempoBpm: 1200,
      signingKey: untrusted.secretKey,
    });
    const unsigned = json(beatFrame(cluster, 'p', 1));
    publishFrame(raw, cluster, unsigned);
    const forged = json(beatFrame(cluster, 'p', 2));
    publishFrame(raw, cluster, forged, {
      ...signatureHeaders(trusted.secretKey, unsigned), // a signature of other bytes
    });
    await clientHasSeen(raw, client);
    const counts = client.metrics().beats.rejected;
    expect(counts['untrusted-pulse']).toBeGreaterThanOrEqual(1);
    expect(counts['unsigned-frame']).toBe(1);
    expect(counts['bad-signature']).toBe(1);
    await stranger.stop();
    expect(delivered.values.filter((beat) => beat.source === 'pulse')).toEqual([]);

    const friend = await makePulse({
      natsUrl: server.url,
      clusterId: cluster,
      tempoBpm: 1200,
      signingKey: trusted.secretKey,
    });
    const beat = await nextBeat(client, (b) => b.source === 'pulse');
    expect(beat.pulse_id).toBe(friend.pulseId);
    await client.stop();
    await friend.stop();
  });

  it('accepts legacy frames when asked, with one migration warning', async () => {
    const cluster = 'beats-legacy';
    const logger = recordingLogger();
    const client = makeClient({
      clusterId: cluster,
      agentId: 'a',
      natsUrl: server.url,
      acceptLegacyFrames: true,
      logger,
    });
    await client.start();
    const beats = firstValueFrom(client.beat$.pipe(take(2), toArray()));
    publishFrame(raw, cluster, json({ bar: 3, beat: 2, tempo_bpm: 600 }));
    publishFrame(raw, cluster, json({ bar: 3, beat: 3, cluster_id: cluster }));
    publishFrame(raw, cluster, json({ bar: 3, beat: 4, cluster_id: 'elsewhere' }));
    await clientHasSeen(raw, client);
    const [one, two] = await beats;
    expect(one).toMatchObject({
      source: 'legacy',
      phase: 'legacy',
      pulse_id: 'legacy',
      beat_index: legacyToBeatIndex(3, 2),
      tempo_bpm: 600,
      cluster_id: cluster,
    });
    expect(two).toMatchObject({ source: 'legacy', beat_index: legacyToBeatIndex(3, 3) });
    expect(client.getLegacyBeatInfo()).toEqual({ bar: 3, beat: 3 });
    expect(client.metrics().beats.rejected['other-cluster']).toBe(1);
    expect(logger.lines('warn', 'legacy {bar, beat} frames received')).toHaveLength(1);
    await client.stop();
  });
});
