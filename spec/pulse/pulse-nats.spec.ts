/**
 * The dev pulse against a real nats-server: its frames pass the frame judge, a shared connection
 * is left open, and the schedule keeps its time across a server restart.
 */
import { connect, type Msg, type NatsConnection, type Subscription } from 'nats';
import type { Beat } from '../../lib/beats/beat';
import { createClient } from '../../lib/client';
import { generateSigningKey } from '../../lib/crypto/keys';
import { ConnectionError } from '../../lib/errors';
import { judgeFrame, type AcceptedFrame, type JudgeContext } from '../../lib/protocol/judge';
import { beatSubject } from '../../lib/protocol/subjects';
import { startPulse, type Pulse } from '../../lib/pulse/pulse';
import { freePorts, startNatsServer, type NatsServerHandle } from '../support/nats-server';

const CLUSTER = 'pulse-it';
/** 1200 BPM: a beat every 50 ms, so that a few frames arrive quickly. */
const TEMPO_BPM = 1200;
const PERIOD_MS = 60000 / TEMPO_BPM;

/** Receives messages one at a time from a subscription, waiting for each as needed. */
function inbox(sub: Subscription) {
  const iterator = sub[Symbol.asyncIterator]();
  return async (): Promise<Msg> => {
    const next = await iterator.next();
    if (next.done) throw new Error('the subscription closed');
    return next.value;
  };
}

function judgeContext(trustedPulseKeys: Uint8Array[]): JudgeContext {
  return {
    clusterId: CLUSTER,
    acceptLegacyFrames: false,
    trustedPulseKeys,
    maxClockSkewMs: 60000,
    physicalNow: () => Date.now(),
    legacy: () => {
      throw new Error('no legacy frame is expected');
    },
  };
}

describe('startPulse against nats-server', () => {
  let server: NatsServerHandle;
  let subscriber: NatsConnection;
  let pulse: Pulse | undefined;

  beforeEach(async () => {
    server = await startNatsServer();
    subscriber = await connect({
      servers: server.url,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
  });

  afterEach(async () => {
    await pulse?.stop();
    pulse = undefined;
    await subscriber.close();
    await server.stop();
  });

  it('publishes signed frames that the frame judge accepts, one per beat, in order', async () => {
    const keyPair = generateSigningKey();
    const next = inbox(subscriber.subscribe(beatSubject(CLUSTER)));
    await subscriber.flush();
    pulse = await startPulse({
      natsUrl: server.url,
      clusterId: CLUSTER,
      tempoBpm: TEMPO_BPM,
      beatsPerBar: 3,
      signingKey: keyPair.secretKey,
    });
    const frames: AcceptedFrame[] = [];
    while (frames.length < 6) {
      const message = await next();
      const verdict = judgeFrame(message.data, message.headers, judgeContext([keyPair.publicKey]));
      if (!verdict.ok) throw new Error(`frame rejected: ${verdict.reason}`);
      expect(verdict.source).toBe('pulse');
      expect(verdict.hlcSkew).toBe(false);
      frames.push(verdict.frame);
    }
    // Strictly increasing, not consecutive: a pulse held up by a loaded machine skips the slots
    // that passed (its absolute schedule, checked slot by slot on fake time in pulse.spec.ts).
    const indexes = frames.map((frame) => frame.beat_index);
    for (let k = 1; k < indexes.length; k++) expect(indexes[k]).toBeGreaterThan(indexes[k - 1]);
    expect(frames.every((frame) => frame.pulse_id === pulse!.pulseId)).toBe(true);
    expect(frames.map((frame) => frame.phase)).toEqual(
      frames.map((frame) => ['plan', 'work', 'work'][frame.beat_index % 3]),
    );
  });

  it('leaves a shared connection open when it stops', async () => {
    const shared = await connect({ servers: server.url });
    const next = inbox(subscriber.subscribe(beatSubject(CLUSTER)));
    await subscriber.flush();
    const sharedPulse = await startPulse({
      connection: shared,
      clusterId: CLUSTER,
      tempoBpm: 6000,
    });
    const verdict = judgeFrame((await next()).data, undefined, judgeContext([]));
    expect(verdict.ok).toBe(true);
    await sharedPulse.stop();
    expect(shared.isClosed()).toBe(false);
    await shared.close();
  });

  it('keeps its schedule across a server restart and publishes again after it', async () => {
    const next = inbox(subscriber.subscribe(beatSubject(CLUSTER)));
    await subscriber.flush();
    pulse = await startPulse({ natsUrl: server.url, clusterId: CLUSTER, tempoBpm: TEMPO_BPM });
    const before = judgeFrame((await next()).data, undefined, judgeContext([]));
    if (!before.ok) throw new Error(`frame rejected: ${before.reason}`);
    await server.restart();
    // Frames published while the server was down are lost; wait for one sent after the restart.
    let after: AcceptedFrame | undefined;
    const restartedAtMs = Date.now();
    while (after === undefined) {
      const verdict = judgeFrame((await next()).data, undefined, judgeContext([]));
      if (!verdict.ok) throw new Error(`frame rejected: ${verdict.reason}`);
      if (Date.parse(verdict.frame.deadline_at) > restartedAtMs) after = verdict.frame;
    }
    const skippedBeats = after.beat_index - before.frame.beat_index;
    expect(skippedBeats).toBeGreaterThan(0);
    // The same grid: deadlines stay a whole number of periods apart (to the rounded ms).
    const deadlineGapMs =
      Date.parse(after.deadline_at) -
      Date.parse(before.frame.deadline_at) -
      skippedBeats * PERIOD_MS;
    expect(Math.abs(deadlineGapMs)).toBeLessThanOrEqual(5);
    expect(after.pulse_id).toBe(before.frame.pulse_id);
  });

  it('killed and restarted on the same epoch, is followed without a reset or a gap', async () => {
    // 120 BPM: a period long enough that no event-loop stall of a loaded machine skips a slot.
    const tempoBpm = 120;
    const epochMs = Date.now() - 60_000;
    const options = { natsUrl: server.url, clusterId: CLUSTER, pulseId: 'pulse-epoch', tempoBpm };
    const client = createClient({ clusterId: CLUSTER, agentId: 'follower', natsUrl: server.url });
    const beats: Beat[] = [];
    let seen: (beat: Beat) => void = () => undefined;
    client.beat$.subscribe((beat) => {
      beats.push(beat);
      seen(beat);
    });
    const until = (predicate: (beat: Beat) => boolean) =>
      new Promise<Beat>((resolve) => (seen = (beat) => predicate(beat) && resolve(beat)));
    try {
      await client.start();
      pulse = await startPulse({ ...options, epochMs });
      await until((beat) => beat.source === 'pulse');
      await until((beat) => beat.source === 'pulse');
      await pulse.stop();
      const synthetic = await until((beat) => beat.source === 'synthetic');
      await until((beat) => beat.beat_index === synthetic.beat_index + 2);
      pulse = await startPulse({ ...options, epochMs });
      const back = await until((beat) => beat.source === 'pulse');
      await until((beat) => beat.beat_index === back.beat_index + 2);

      const followed = beats.slice(beats.findIndex((beat) => beat.source === 'pulse'));
      expect(followed.map((beat) => beat.beat_index - followed[0].beat_index)).toEqual(
        followed.map((_, i) => i),
      );
      // (The first pulse beat may reset synthetic beats made before it, on a slow start.)
      expect(
        followed.slice(1).filter((beat) => beat.timelineReset || beat.missedBefore > 0),
      ).toEqual([]);
      expect(followed.map((beat) => beat.source)).toContain('synthetic');
      // Indexes are the epoch's: beat i was due at epochMs + i × 500 ms.
      const last = followed[followed.length - 1];
      expect(Math.abs(last.receivedAtMs - (epochMs + last.beat_index * 500))).toBeLessThan(500);
    } finally {
      await client.stop();
    }
  });

  it('rejects with a ConnectionError when natsUrl cannot be dialled', async () => {
    const [port] = await freePorts(1);
    await expect(
      startPulse({ natsUrl: `nats://127.0.0.1:${port}`, clusterId: CLUSTER }),
    ).rejects.toBeInstanceOf(ConnectionError);
  });
});
