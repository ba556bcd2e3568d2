/**
 * The publisher's own bookkeeping (order, bounds, counters, retries), over a stand-in
 * connection. What nats.js and the server do is tested in spec/integration/status-*.spec.ts.
 */
import type { NatsConnection, Status } from 'nats';
import { ClientStateError, ConnectionError } from '../../lib/errors';
import {
  StatusClaimDroppedError,
  StatusPublisher,
  type OutgoingClaim,
} from '../../lib/transport/status-publisher';

/** A status feed the test pushes events into. */
class StatusFeed implements AsyncIterable<Status> {
  private readonly queued: Status[] = [];
  private wake: (() => void) | null = null;
  private ended = false;

  push(type: string): void {
    this.queued.push({ type, data: '' } as Status);
    this.wake?.();
  }

  stop(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Status> {
    while (!this.ended) {
      const next = this.queued.shift();
      if (next !== undefined) yield next;
      else await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

interface Sent {
  subject: string;
  data: string;
  headers: Record<string, string[]>;
  msgID?: string;
}

/** A stand-in NatsConnection: records core publishes; JetStream answers as `jsAnswer` says. */
function fakeConnection() {
  const sent: Sent[] = [];
  const jsSent: Sent[] = [];
  const feed = new StatusFeed();
  let inFlight = 0;
  let maxInFlight = 0;
  const fake = {
    sent,
    jsSent,
    feed,
    maxInFlight: () => maxInFlight,
    refusePublish: null as Error | null,
    flushes: 0,
    /** Each JetStream attempt takes the next answer: 'ack', an Error, or 'hang' (never settles). */
    jsAnswers: [] as Array<'ack' | Error | 'hang'>,
    connection: {} as NatsConnection,
  };
  const record = (
    subject: string,
    data: Uint8Array,
    headers: { toRecord(): Record<string, string[]> },
  ) => ({
    subject,
    data: new TextDecoder().decode(data),
    headers: headers.toRecord(),
  });
  fake.connection = {
    publish(
      subject: string,
      data: Uint8Array,
      options: { headers: { toRecord(): Record<string, string[]> } },
    ) {
      if (fake.refusePublish) throw fake.refusePublish;
      sent.push(record(subject, data, options.headers));
    },
    flush() {
      fake.flushes++;
      return Promise.resolve();
    },
    status: () => feed,
    closed: () => new Promise(() => undefined),
    isClosed: () => false,
    jetstream: () => ({
      publish(
        subject: string,
        data: Uint8Array,
        options: { headers: { toRecord(): Record<string, string[]> }; msgID: string },
      ) {
        jsSent.push({ ...record(subject, data, options.headers), msgID: options.msgID });
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        const answer = fake.jsAnswers.shift() ?? 'ack';
        if (answer === 'hang') return new Promise(() => undefined);
        inFlight--;
        return answer === 'ack'
          ? Promise.resolve({ stream: 'S', seq: jsSent.length, duplicate: false })
          : Promise.reject(answer);
      },
    }),
  } as unknown as NatsConnection;
  return fake;
}

function claim(n: number): OutgoingClaim {
  return {
    subject: 'backbeat.c.status.a',
    payload: new TextEncoder().encode(`claim-${n}`),
    headers: { 'x-agent-id': 'a', 'x-hlc': `hlc-${n}`, 'Nats-Msg-Id': `a:hlc-${n}` },
  };
}

/** Lets pending promise callbacks run (the status feed is async). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe('StatusPublisher, core delivery', () => {
  it('hands claims to nats.js at once while connected, header names as given', async () => {
    const fake = fakeConnection();
    const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 4 });
    publisher.attach(fake.connection);
    await publisher.publish(claim(1));
    expect(fake.sent).toEqual([
      {
        subject: 'backbeat.c.status.a',
        data: 'claim-1',
        headers: { 'x-agent-id': ['a'], 'x-hlc': ['hlc-1'], 'Nats-Msg-Id': ['a:hlc-1'] },
      },
    ]);
    expect(publisher.metrics()).toEqual({
      emitted: 1,
      errors: 0,
      buffered: 0,
      dropped: 0,
      retries: 0,
    });
  });

  it('buffers claims until attached, then sends them in order', async () => {
    const fake = fakeConnection();
    const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 4 });
    await Promise.all([1, 2, 3].map((n) => publisher.publish(claim(n))));
    expect(fake.sent).toEqual([]);
    expect(publisher.metrics().buffered).toBe(3);
    publisher.attach(fake.connection);
    expect(fake.sent.map((sent) => sent.data)).toEqual(['claim-1', 'claim-2', 'claim-3']);
    expect(publisher.metrics()).toMatchObject({ emitted: 3, buffered: 0 });
  });

  it('holds claims from a disconnect to the reconnect, dropping the oldest beyond the bound', async () => {
    const fake = fakeConnection();
    const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 2 });
    publisher.attach(fake.connection);
    fake.feed.push('disconnect');
    await settle();
    // Core promises resolve when queued, even for the claims dropped later.
    await Promise.all([1, 2, 3, 4, 5].map((n) => publisher.publish(claim(n))));
    expect(fake.sent).toEqual([]);
    expect(publisher.metrics()).toMatchObject({ buffered: 2, dropped: 3 });
    fake.feed.push('reconnecting');
    fake.feed.push('reconnect');
    await settle();
    expect(fake.sent.map((sent) => sent.data)).toEqual(['claim-4', 'claim-5']);
    expect(publisher.metrics()).toEqual({
      emitted: 2,
      errors: 0,
      buffered: 0,
      dropped: 3,
      retries: 0,
    });
  });

  it('follows connectionDown and connectionUp calls as well as status events', async () => {
    const fake = fakeConnection();
    const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 8 });
    publisher.attach(fake.connection);
    publisher.connectionDown();
    await publisher.publish(claim(1));
    expect(fake.sent).toHaveLength(0);
    publisher.connectionUp();
    publisher.connectionUp();
    expect(fake.sent.map((sent) => sent.data)).toEqual(['claim-1']);
  });

  it('flush waits for buffered claims to go out, then for the round trip', async () => {
    const fake = fakeConnection();
    const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 8 });
    await publisher.publish(claim(1));
    let flushed = false;
    const flushing = publisher.flush().then(() => (flushed = true));
    await settle();
    expect(flushed).toBe(false);
    publisher.attach(fake.connection);
    await flushing;
    expect(fake.sent).toHaveLength(1);
    expect(fake.flushes).toBe(1);
  });

  it('flush ends on a disconnect during its round trip, and leaves nothing waiting on events', async () => {
    const fake = fakeConnection();
    const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 8 });
    publisher.attach(fake.connection);
    await publisher.publish(claim(1));
    const waiting = () => (publisher as unknown as { wentDown: { observed: boolean } }).wentDown;
    for (let i = 0; i < 100; i++) await publisher.flush();
    expect(waiting().observed).toBe(false);
    fake.connection.flush = () => new Promise<void>(() => undefined);
    let flushed = false;
    const flushing = publisher.flush().then(() => (flushed = true));
    await settle();
    expect(flushed).toBe(false);
    expect(waiting().observed).toBe(true);
    publisher.connectionDown();
    await flushing;
    expect(waiting().observed).toBe(false);
  });

  it('rejects a claim nats.js refuses, and counts it', async () => {
    const fake = fakeConnection();
    const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 8 });
    publisher.attach(fake.connection);
    fake.refusePublish = new Error('CONNECTION_CLOSED');
    const refused: unknown = await publisher.publish(claim(1)).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ConnectionError);
    expect((refused as ConnectionError).message).toMatch(/CONNECTION_CLOSED/);
    expect((refused as ConnectionError).cause).toBe(fake.refusePublish);
    expect(publisher.metrics()).toMatchObject({ emitted: 0, errors: 1 });
  });

  it('drain drops what the limit leaves, then refuses new claims', async () => {
    jest.useFakeTimers();
    try {
      const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 8 });
      await publisher.publish(claim(1));
      await publisher.publish(claim(2));
      const draining = publisher.drain(1000);
      await jest.advanceTimersByTimeAsync(1000);
      await expect(draining).resolves.toEqual({ dropped: 2, flushed: false });
      expect(publisher.metrics()).toMatchObject({ buffered: 0, dropped: 2 });
      await expect(publisher.publish(claim(3))).rejects.toBeInstanceOf(ClientStateError);
      await expect(publisher.drain(1000)).resolves.toEqual({ dropped: 0, flushed: true });
    } finally {
      jest.useRealTimers();
    }
  });

  it('drain resolves as soon as everything is sent', async () => {
    const fake = fakeConnection();
    const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 8 });
    publisher.attach(fake.connection);
    await publisher.publish(claim(1));
    await expect(publisher.drain(60_000)).resolves.toEqual({ dropped: 0, flushed: true });
  });

  it('refuses a buffer size that is not a non-negative integer', () => {
    expect(() => new StatusPublisher({ delivery: 'core', bufferSize: -1 })).toThrow(RangeError);
    expect(() => new StatusPublisher({ delivery: 'core', bufferSize: 1.5 })).toThrow(RangeError);
  });
});

describe('StatusPublisher, JetStream delivery', () => {
  afterEach(() => jest.useRealTimers());

  it('publishes one claim at a time, in order, with its msgID; each resolves on its ack', async () => {
    const fake = fakeConnection();
    const publisher = new StatusPublisher({ delivery: 'jetstream', bufferSize: 8 });
    publisher.attach(fake.connection);
    await Promise.all([1, 2, 3].map((n) => publisher.publish(claim(n))));
    expect(fake.jsSent.map((sent) => [sent.data, sent.msgID])).toEqual([
      ['claim-1', 'a:hlc-1'],
      ['claim-2', 'a:hlc-2'],
      ['claim-3', 'a:hlc-3'],
    ]);
    expect(fake.maxInFlight()).toBe(1);
    expect(publisher.metrics()).toEqual({
      emitted: 3,
      errors: 0,
      buffered: 0,
      dropped: 0,
      retries: 0,
    });
  });

  it('retries a failed attempt with a doubling backoff until acknowledged', async () => {
    jest.useFakeTimers();
    const fake = fakeConnection();
    fake.jsAnswers.push(new Error('503'), new Error('503'), 'ack');
    const publisher = new StatusPublisher({
      delivery: 'jetstream',
      bufferSize: 8,
      jetstream: { retryDelayMs: 100, maxRetryDelayMs: 150 },
      random: () => 0.5, // no jitter
    });
    publisher.attach(fake.connection);
    let acknowledged = false;
    void publisher.publish(claim(1)).then(() => (acknowledged = true));
    await jest.advanceTimersByTimeAsync(99);
    expect(fake.jsSent).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(fake.jsSent).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(149); // 200 capped at 150
    expect(fake.jsSent).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(fake.jsSent).toHaveLength(3);
    expect(acknowledged).toBe(true);
    expect(publisher.metrics()).toEqual({
      emitted: 1,
      errors: 2,
      buffered: 0,
      dropped: 0,
      retries: 2,
    });
  });

  it('abandons the attempt in flight on a disconnect and re-sends it on the reconnect', async () => {
    const fake = fakeConnection();
    fake.jsAnswers.push('hang', 'ack');
    const publisher = new StatusPublisher({ delivery: 'jetstream', bufferSize: 8 });
    publisher.attach(fake.connection);
    const acknowledged = publisher.publish(claim(1));
    await settle();
    publisher.connectionDown();
    await settle();
    expect(fake.jsSent).toHaveLength(1);
    publisher.connectionUp();
    await acknowledged;
    expect(fake.jsSent.map((sent) => sent.msgID)).toEqual(['a:hlc-1', 'a:hlc-1']);
    expect(publisher.metrics()).toMatchObject({ emitted: 1, retries: 1, errors: 0 });
  });

  it('rejects the oldest unacknowledged claims beyond the bound, and counts them', async () => {
    const fake = fakeConnection();
    const publisher = new StatusPublisher({ delivery: 'jetstream', bufferSize: 2 });
    const results = [1, 2, 3, 4].map((n) =>
      publisher.publish(claim(n)).then(
        () => 'ack',
        (error: unknown) => error,
      ),
    );
    publisher.attach(fake.connection);
    const [first, second, third, fourth] = await Promise.all(results);
    expect(first).toBeInstanceOf(StatusClaimDroppedError);
    expect(first).toMatchObject({ reason: 'buffer-full', code: 'BACKBEAT_STATUS_CLAIM_DROPPED' });
    expect(second).toBeInstanceOf(StatusClaimDroppedError);
    expect([third, fourth]).toEqual(['ack', 'ack']);
    expect(fake.jsSent.map((sent) => sent.data)).toEqual(['claim-3', 'claim-4']);
    expect(publisher.metrics()).toMatchObject({ emitted: 2, dropped: 2, buffered: 0 });
  });

  it('drain rejects what is still unacknowledged with reason stopped', async () => {
    const fake = fakeConnection();
    fake.jsAnswers.push('hang');
    const publisher = new StatusPublisher({ delivery: 'jetstream', bufferSize: 8 });
    publisher.attach(fake.connection);
    const first = publisher.publish(claim(1));
    const second = publisher.publish(claim(2));
    await settle();
    expect(fake.jsSent).toHaveLength(1);
    await expect(publisher.drain(0)).resolves.toEqual({ dropped: 2, flushed: false });
    await expect(first).rejects.toMatchObject({ reason: 'stopped' });
    await expect(second).rejects.toMatchObject({ reason: 'stopped' });
    expect(fake.jsSent).toHaveLength(1);
  });
});

describe('StatusPublisher, driven by its owner', () => {
  it('with followStatus false ignores status events and follows connectionUp/Down only', async () => {
    const fake = fakeConnection();
    const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 8, followStatus: false });
    publisher.attach(fake.connection);
    // Attached but not told the link is up: claims wait.
    await publisher.publish(claim(1));
    expect(fake.sent).toHaveLength(0);
    fake.feed.push('reconnect');
    await settle();
    expect(fake.sent).toHaveLength(0);
    publisher.connectionUp();
    expect(fake.sent.map((sent) => sent.data)).toEqual(['claim-1']);
    fake.feed.push('disconnect');
    await settle();
    await publisher.publish(claim(2));
    expect(fake.sent).toHaveLength(2);
  });

  it('counts claims handed to a link that never confirmed them as dropped at drain', async () => {
    const fake = fakeConnection();
    let answerFlush: (() => void) | null = null;
    (fake.connection as unknown as { flush: () => Promise<void> }).flush = () =>
      new Promise<void>((resolve) => (answerFlush = resolve));
    const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 8, followStatus: false });
    publisher.attach(fake.connection);
    publisher.connectionUp();
    await publisher.publish(claim(1));
    await publisher.publish(claim(2));
    // The round trip never comes back (a half-open link): both were handed, neither confirmed.
    await expect(publisher.drain(0)).resolves.toEqual({ dropped: 2, flushed: false });
    expect(publisher.metrics()).toMatchObject({ emitted: 2, dropped: 2 });
    expect(answerFlush).not.toBeNull();
  });

  it('confirms handed claims with a completed round trip', async () => {
    const fake = fakeConnection();
    const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 8, followStatus: false });
    publisher.attach(fake.connection);
    publisher.connectionUp();
    await publisher.publish(claim(1));
    await publisher.flush();
    await expect(publisher.drain(0)).resolves.toEqual({ dropped: 0, flushed: true });
  });

  it('refuse(error) rejects what is pending and what comes with that error, until cleared', async () => {
    const fake = fakeConnection();
    fake.jsAnswers.push('hang');
    const publisher = new StatusPublisher({ delivery: 'jetstream', bufferSize: 8 });
    publisher.attach(fake.connection);
    const waiting = publisher.publish(claim(1));
    await settle();
    const missing = new Error('stream missing');
    publisher.refuse(missing);
    await expect(waiting).rejects.toBe(missing);
    await expect(publisher.publish(claim(2))).rejects.toBe(missing);
    expect(publisher.metrics()).toMatchObject({ dropped: 2, buffered: 0 });
    publisher.refuse(null);
    await expect(publisher.publish(claim(3))).resolves.toBeUndefined();
  });
});
