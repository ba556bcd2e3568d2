/**
 * The in-memory connection: NATS subject matching, the two subscription forms, recording,
 * partitions (mute, disconnect), status events, closing, and what it refuses.
 */
import { ErrorCode, Events, DebugEvents, headers as natsHeaders, type Msg } from 'nats';
import {
  createTestConnection,
  subjectMatches,
  type TestConnection,
} from '@chorus-services/backbeat/testing';
import { ConnectionError } from '@chorus-services/backbeat';
import { VirtualTimeScheduler } from 'rxjs';
import { startPulse } from '../../lib/pulse/pulse';
import { advanceTo } from '../support/virtual-time';

const text = (msg: { data: Uint8Array }) => new TextDecoder().decode(msg.data);

/** Collects what a callback subscription receives. */
function collect(connection: TestConnection, subject: string, options = {}): Msg[] {
  const received: Msg[] = [];
  connection.subscribe(subject, { ...options, callback: (_err, msg) => received.push(msg) });
  return received;
}

describe('subjectMatches', () => {
  it.each([
    ['a.b.c', 'a.b.c', true],
    ['a.b.c', 'a.b', false],
    ['a.b', 'a.b.c', false],
    ['a.*.c', 'a.x.c', true],
    ['a.*.c', 'a.x.y.c', false],
    ['a.*', 'a', false],
    ['a.>', 'a.b', true],
    ['a.>', 'a.b.c.d', true],
    ['a.>', 'a', false],
    ['>', 'a', true],
    ['*.b.>', 'x.b.c', true],
    ['*.b.>', 'x.c.c', false],
  ])('%s matches %s: %s', (pattern, subject, expected) => {
    expect(subjectMatches(pattern, subject)).toBe(expected);
  });
});

describe('createTestConnection', () => {
  let connection: TestConnection;

  beforeEach(() => {
    connection = createTestConnection();
  });

  afterEach(async () => {
    await connection.close();
  });

  it('delivers each publish at once to every matching subscription, headers and reply included', () => {
    const exact = collect(connection, 'backbeat.c1.status.a1');
    const wildcard = collect(connection, 'backbeat.c1.status.*');
    const other = collect(connection, 'backbeat.c2.>');
    const headers = natsHeaders();
    headers.set('x-agent-id', 'a1');
    connection.publish('backbeat.c1.status.a1', '"hello"', { headers, reply: 'inbox.1' });
    expect(exact.map(text)).toEqual(['"hello"']);
    expect(wildcard.map(text)).toEqual(['"hello"']);
    expect(other).toHaveLength(0);
    expect(exact[0].headers?.get('x-agent-id')).toBe('a1');
    expect(exact[0].reply).toBe('inbox.1');
    expect(exact[0].json<string>()).toBe('hello');

    const replies = collect(connection, 'inbox.1');
    expect(exact[0].respond('back')).toBe(true);
    expect(replies.map(text)).toEqual(['back']);
    expect(connection.respondMessage(replies[0])).toBe(false); // no reply subject
  });

  it('records what was published, as it was, and what became of it', () => {
    const payload = new Uint8Array([1, 2, 3]);
    connection.publish('a.b', payload);
    payload[0] = 9; // the publisher reuses its buffer: the record keeps the bytes sent
    const unmute = connection.mute('a.*');
    connection.publish('a.c');
    unmute();
    connection.publish('a.d', 'x');
    expect(connection.published.map((m) => [m.subject, [...m.data], m.delivered])).toEqual([
      ['a.b', [1, 2, 3], true],
      ['a.c', [], false],
      ['a.d', [120], true],
    ]);
    expect(connection.lost).toBe(1);
    expect(connection.stats()).toMatchObject({ outMsgs: 3, inMsgs: 0 });

    const quiet = createTestConnection({ record: false });
    quiet.publish('a.b', 'x');
    expect(quiet.published).toHaveLength(0);
    void quiet.close();
  });

  it('iterates a subscription without callback, and ends it at unsubscribe', async () => {
    const subscription = connection.subscribe('jobs.>');
    connection.publish('jobs.1', 'one');
    connection.publish('jobs.2', 'two');
    subscription.unsubscribe();
    connection.publish('jobs.3', 'three');
    const seen: string[] = [];
    for await (const msg of subscription) seen.push(`${msg.subject}=${text(msg)}`);
    expect(seen).toEqual(['jobs.1=one', 'jobs.2=two']);
    await expect(subscription.closed).resolves.toBeUndefined();
    expect(connection.subscriptionCount).toBe(0);
  });

  it('honours max and queue groups', () => {
    const limited = collect(connection, 'x', { max: 2 });
    const first = collect(connection, 'x', { queue: 'workers' });
    const second = collect(connection, 'x', { queue: 'workers' });
    for (let i = 0; i < 4; i++) connection.publish('x', String(i));
    expect(limited.map(text)).toEqual(['0', '1']);
    expect(first.length + second.length).toBe(4);
    expect(first.length).toBe(2);
    expect(connection.subscriptionCount).toBe(2);
  });

  it('reports disconnects and reconnects on status feeds, losing what is published meanwhile', async () => {
    const feed = connection.status();
    const received = collect(connection, 'a');
    connection.disconnect();
    expect(connection.connected).toBe(false);
    connection.publish('a', 'lost');
    await connection.reconnect();
    connection.publish('a', 'kept');
    expect(received.map(text)).toEqual(['kept']);
    const events: string[] = [];
    const iterator = feed[Symbol.asyncIterator]();
    for (let i = 0; i < 3; i++) {
      const next = await iterator.next();
      if (!next.done) events.push(next.value.type);
    }
    expect(events).toEqual([Events.Disconnect, DebugEvents.Reconnecting, Events.Reconnect]);
    feed.stop();
    await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it('closes: subscriptions and feeds end, closed() resolves, publishing throws', async () => {
    const subscription = connection.subscribe('a', { callback: () => undefined });
    const feed = connection.status()[Symbol.asyncIterator]();
    const pendingEvent = feed.next();
    await connection.close();
    await expect(connection.closed()).resolves.toBeUndefined();
    await expect(subscription.closed).resolves.toBeUndefined();
    await expect(pendingEvent).resolves.toEqual({ done: true, value: undefined });
    expect(connection.isClosed()).toBe(true);
    expect(() => connection.publish('a')).toThrow(
      expect.objectContaining({ code: ErrorCode.ConnectionClosed }) as Error,
    );
    expect(() => connection.subscribe('a')).toThrow(
      expect.objectContaining({ code: ErrorCode.ConnectionClosed }) as Error,
    );
    await expect(connection.flush()).rejects.toMatchObject({ code: ErrorCode.ConnectionClosed });
  });

  it('drains: subscriptions end after what they hold, then it closes', async () => {
    const subscription = connection.subscribe('a');
    connection.publish('a', 'held');
    await connection.drain();
    const seen: string[] = [];
    for await (const msg of subscription) seen.push(text(msg));
    expect(seen).toEqual(['held']);
    expect(connection.isClosed()).toBe(true);
  });

  it('refuses bad subjects as nats.js does', () => {
    for (const subject of ['', 'a..b', 'a.*', 'a.>', 'a b']) {
      expect(() => connection.publish(subject)).toThrow(
        expect.objectContaining({ code: ErrorCode.BadSubject }) as Error,
      );
    }
    for (const subject of ['a.>.b', 'a.b*', '']) {
      expect(() => connection.subscribe(subject)).toThrow(
        expect.objectContaining({ code: ErrorCode.BadSubject }) as Error,
      );
    }
  });

  it('has no JetStream, and says so', async () => {
    expect(() => connection.jetstream()).toThrow(ConnectionError);
    expect(() => connection.jetstream()).toThrow(/test connection has no JetStream/);
    await expect(connection.jetstreamManager()).rejects.toBeInstanceOf(ConnectionError);
    await expect(connection.request('a')).rejects.toThrow(/not provided by the test connection/);
  });

  it('carries the dev pulse: frames on the beat subject, on its scheduler', async () => {
    const frames = collect(connection, 'backbeat.c1.beat');
    const scheduler = new VirtualTimeScheduler();
    const pulse = await startPulse({ connection, clusterId: 'c1', tempoBpm: 600, scheduler });
    advanceTo(scheduler, 250);
    await pulse.stop();
    expect(
      frames.map((msg) => (JSON.parse(text(msg)) as { beat_index: number }).beat_index),
    ).toEqual([0, 1, 2]);
    expect(connection.isClosed()).toBe(false); // a shared connection stays open
  });
});
