import { connect, headers, type NatsConnection } from 'nats';
import { headerValues } from '../../lib/protocol/headers';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';

describe('publish/subscribe through a real nats-server', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url, reconnect: false });
  });

  afterAll(async () => {
    await nc.close();
    await server.stop();
  });

  it('delivers the payload and every header, repeated values included', async () => {
    const sub = nc.subscribe('backbeat.test.pubsub', { max: 1 });
    const sent = headers();
    sent.set('X-Backbeat-Kind', 'frame');
    sent.append('X-Backbeat-Trace', 'a');
    sent.append('X-Backbeat-Trace', 'b');
    nc.publish('backbeat.test.pubsub', new TextEncoder().encode('{"beat":1}'), { headers: sent });

    const received = [];
    for await (const msg of sub) received.push(msg);

    expect(received).toHaveLength(1);
    const [msg] = received;
    expect(msg.subject).toBe('backbeat.test.pubsub');
    expect(msg.string()).toBe('{"beat":1}');
    expect(msg.headers?.get('X-Backbeat-Kind')).toBe('frame');
    expect(msg.headers?.values('X-Backbeat-Trace')).toEqual(['a', 'b']);
    // The SDK's own lookup, over headers as the real client decodes them off the wire.
    expect(headerValues(msg.headers, 'x-backbeat-trace')).toEqual(['a', 'b']);
  });
});
