import { connect } from 'nats';
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { ClientStateError } from '../../lib/errors';
import { beatSubject, statusSubject } from '../../lib/protocol/subjects';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';
import { cleanUp, makeClient, makePulse } from './client-support';

const CLUSTER = 'smoke';

describe('client against a live pulse', () => {
  let server: NatsServerHandle;
  beforeAll(async () => {
    server = await startNatsServer();
  });
  // A failed test still stops its client and pulse: nothing keeps jest from exiting.
  afterEach(cleanUp);
  afterAll(async () => {
    await server.stop();
  });

  it('follows the pulse, sends claims, and stops cleanly', async () => {
    const pulse = await makePulse({ natsUrl: server.url, clusterId: CLUSTER, tempoBpm: 600 });
    const client = makeClient({ clusterId: CLUSTER, agentId: 'agent-1', natsUrl: server.url });
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
    // Strictly increasing: a pulse held up by a loaded machine skips the slots that passed.
    expect(beats[1].beat_index).toBeGreaterThan(beats[0].beat_index);
    expect(beats[2].beat_index).toBeGreaterThan(beats[1].beat_index);

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
