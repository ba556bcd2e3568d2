import { connect } from 'nats';
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { createClient } from '../../lib/client';
import { ClientStateError } from '../../lib/errors';
import { beatSubject, statusSubject } from '../../lib/protocol/subjects';
import { startPulse } from '../../lib/pulse/pulse';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';

const CLUSTER = 'smoke';

describe('client against a live pulse', () => {
  let server: NatsServerHandle;
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('follows the pulse, sends claims, and stops cleanly', async () => {
    const pulse = await startPulse({ natsUrl: server.url, clusterId: CLUSTER, tempoBpm: 600 });
    const client = createClient({ clusterId: CLUSTER, agentId: 'agent-1', natsUrl: server.url });
    await expect(
      client.emitStatusClaim({ state: 'executing', beatsLeft: 1, progress: 0 }),
    ).rejects.toBeInstanceOf(ClientStateError);
    const pulseBeats = firstValueFrom(
      client.beat$.pipe(
        filter((b) => b.source === 'pulse'),
        take(3),
        toArray(),
      ),
    );
    await client.start();
    expect(client.health().connected).toBe(true);
    const beats = await pulseBeats;
    expect(beats.map((b) => b.beat_index)).toEqual([
      beats[0].beat_index,
      beats[0].beat_index + 1,
      beats[0].beat_index + 2,
    ]);

    const raw = await connect({ servers: server.url });
    const sub = raw.subscribe(statusSubject(CLUSTER, 'agent-1'), { max: 1 });
    await raw.flush();
    const claim = await client.emitStatusClaim({ state: 'executing', beatsLeft: 3, progress: 0.5 });
    const [msg] = await (async () => {
      const got = [];
      for await (const m of sub) got.push(m);
      return got;
    })();
    expect(JSON.parse(new TextDecoder().decode(msg.data))).toEqual(claim);
    raw.publish(beatSubject(CLUSTER), new TextEncoder().encode('not json'));
    await raw.flush();
    await client.flush();
    const completed = firstValueFrom(client.beat$.pipe(toArray()));
    await client.stop();
    await completed;
    expect(client.metrics().beats.received).toBeGreaterThanOrEqual(3);
    await pulse.stop();
    await raw.close();
  });
});
