/**
 * The last index, 2^53 − 1, never stops time (docs/protocol.md section 9): the beat after it starts
 * a new timeline at 0, whether the index came from a forged frame (a client without trusted
 * pulse keys, degraded) or from a pulse that reached it; beats go on and a pending budget
 * expires on its beat.
 */
import type { NatsConnection } from 'nats';
import { NEVER } from 'rxjs';
import { createClient, type BackbeatClient } from '../../lib/client';
import { BeatBudgetExceededError } from '../../lib/errors';
import { withinBeats } from '../../lib/operators/within-beats';
import { MAX_BEAT_INDEX } from '../../lib/protocol/text';
import { startPulse, type Pulse } from '../../lib/pulse/pulse';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';
import { beatFrame, json, publishFrame, rawConnection } from '../client/client-support';
import { logBeats, timelineViolations } from './chaos-support';

const TEMPO_BPM = 600;

/** A budget of `beats` on `client.beat$`, started now; resolves with its expiry. */
function budget(client: BackbeatClient, beats: number): Promise<BeatBudgetExceededError> {
  return new Promise((resolve, reject) => {
    NEVER.pipe(withinBeats(beats, client.beat$)).subscribe({
      error: (error: unknown) =>
        error instanceof BeatBudgetExceededError
          ? resolve(error)
          : reject(error instanceof Error ? error : new Error(String(error))),
    });
  });
}

describe('the last index, 2^53 − 1', () => {
  let server: NatsServerHandle | undefined;
  let raw: NatsConnection | undefined;
  let pulse: Pulse | undefined;
  let client: BackbeatClient | undefined;

  afterEach(async () => {
    await client?.stop({ timeoutMs: 0 });
    await pulse?.stop();
    await raw?.close();
    await server?.stop();
    client = pulse = raw = server = undefined;
  });

  it('after a forged frame at 2^53−1 while degraded, synthetic beats go on from 0', async () => {
    server = await startNatsServer();
    raw = await rawConnection(server.url);
    client = createClient({
      clusterId: 'last-forged',
      agentId: 'forged-at',
      natsUrl: server.url,
      fallbackTempoBpm: TEMPO_BPM,
    });
    const log = logBeats(client.beat$);
    await client.start();
    await log.next((beat) => beat.source === 'synthetic' && beat.index >= 2);
    const pending = budget(client, 6);
    const forged = log.next((beat) => beat.index === MAX_BEAT_INDEX);
    publishFrame(raw, 'last-forged', json(beatFrame('last-forged', 'forger', MAX_BEAT_INDEX)));
    await forged;
    await log.next((beat) => beat.source === 'synthetic' && beat.index >= 3);
    const expired = await pending;

    const after = log.beats.slice(log.beats.findIndex((beat) => beat.index === MAX_BEAT_INDEX));
    expect(after.slice(0, 4).map((beat) => [beat.source, beat.index, beat.timelineReset])).toEqual([
      ['pulse', MAX_BEAT_INDEX, true],
      ['synthetic', 0, true],
      ['synthetic', 1, false],
      ['synthetic', 2, false],
    ]);
    expect(timelineViolations(log.beats)).toEqual([]);
    expect(expired.expiredAtBeat).toBeLessThan(10);
  });

  it('from a pulse that reaches it: its next beat, 0, starts a new timeline', async () => {
    server = await startNatsServer();
    client = createClient({ clusterId: 'last-pulse', agentId: 'follower', natsUrl: server.url });
    const log = logBeats(client.beat$);
    await client.start();
    const pending = budget(client, 6);
    pulse = await startPulse({
      natsUrl: server.url,
      clusterId: 'last-pulse',
      tempoBpm: TEMPO_BPM,
      startIndex: MAX_BEAT_INDEX - 2,
    });
    await log.next((beat) => beat.source === 'pulse' && beat.index === 3);
    const expired = await pending;

    const after = log.beats.slice(log.beats.findIndex((beat) => beat.index === MAX_BEAT_INDEX));
    expect(after.slice(0, 4).map((beat) => [beat.source, beat.index, beat.timelineReset])).toEqual([
      ['pulse', MAX_BEAT_INDEX, false],
      ['pulse', 0, true],
      ['pulse', 1, false],
      ['pulse', 2, false],
    ]);
    expect(timelineViolations(log.beats)).toEqual([]);
    expect(client.metrics().beats.missed).toBe(0);
    expect(expired.expiredAtBeat).toBeLessThan(10);
  });
});
