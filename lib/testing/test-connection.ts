/**
 * An in-memory stand-in for a nats.js `NatsConnection`: what one side publishes, the other
 * side's subscriptions receive at once, synchronously, with no server and no timers. Tests hand
 * it to a client (`connection` in its config), a dev pulse or their own code.
 */
import {
  DebugEvents,
  ErrorCode,
  Events,
  NatsError,
  type JetStreamClient,
  type JetStreamManager,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Payload,
  type PublishOptions,
  type RequestManyOptions,
  type RequestOptions,
  type ServicesAPI,
  type Stats,
  type Status,
  type Subscription,
  type SubscriptionOptions,
} from 'nats';
import { ConnectionError } from '../errors';
import { AsyncQueue } from './async-queue';
import { checkSubject, subjectMatches, TestMsg, TestSubscription } from './test-subscription';

/** Options of {@link createTestConnection}. */
export interface TestConnectionOptions {
  /**
   * Keep every published message in `published`. Default `true`; `false` for long runs (a
   * fake-time soak) whose memory must stay flat.
   */
  readonly record?: boolean;
}

/** One message handed to `publish()`, as the test connection recorded it. */
export interface PublishedMessage {
  readonly subject: string;
  /** A copy of the payload bytes, as they were when published. */
  readonly data: Uint8Array;
  readonly headers?: MsgHdrs;
  readonly reply?: string;
  /** False when the message was lost: its subject muted, or published while disconnected. */
  readonly delivered: boolean;
}

const SERVER = 'test://in-memory';
const encoder = new TextEncoder();

/**
 * The test connection. Beyond the `NatsConnection` methods it has `published` (what was
 * published), `mute(subject)` (a partition that drops some subjects), `disconnect()` and
 * `reconnect()` (status events, as nats.js reports them), and `subscriptionCount`.
 *
 * JetStream is out of its reach: `jetstream()` throws and `jetstreamManager()` rejects with a
 * `ConnectionError` saying so; `request()`, `requestMany()` and `services` are not provided.
 */
export class TestConnection implements NatsConnection {
  private readonly record: boolean;
  private readonly recorded: PublishedMessage[] = [];
  private readonly subscriptions = new Set<TestSubscription>();
  private readonly feeds = new Set<AsyncQueue<Status>>();
  private readonly mutes: string[] = [];
  private readonly counts: Stats = { inBytes: 0, outBytes: 0, inMsgs: 0, outMsgs: 0 };
  private readonly closedPromise: Promise<void | Error>;
  private resolveClosed: () => void = () => undefined;
  private state: 'open' | 'draining' | 'closed' = 'open';
  private up = true;
  private nextSid = 1;
  private queueTurn = 0;
  private lostCount = 0;

  /** @param options `record` (default true). */
  constructor(options: TestConnectionOptions = {}) {
    this.record = options.record ?? true;
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  /** Every message published so far, in order (empty when made with `record: false`). */
  get published(): readonly PublishedMessage[] {
    return this.recorded;
  }

  /** Messages lost so far: muted, or published while disconnected. */
  get lost(): number {
    return this.lostCount;
  }

  /** Subscriptions open now. */
  get subscriptionCount(): number {
    return this.subscriptions.size;
  }

  /** Whether the connection is up (not disconnected, not closed). */
  get connected(): boolean {
    return this.up && this.state !== 'closed';
  }

  /**
   * Delivers the message to each matching subscription now (one member per queue group), unless
   * its subject is muted or the connection is disconnected: then it is lost, as nats.js v2
   * loses what it holds when it dials again.
   *
   * @throws NatsError `CONNECTION_CLOSED` after `close()`; `BAD_SUBJECT` for an invalid subject.
   */
  publish(subject: string, payload?: Payload, options?: PublishOptions): void {
    this.assertOpen();
    checkSubject(subject, false);
    // A copy, as a plain Uint8Array: a publisher reusing its buffer must not change what was sent.
    const data =
      typeof payload === 'string' ? encoder.encode(payload) : Uint8Array.from(payload ?? []);
    const delivered = this.up && !this.mutes.some((pattern) => subjectMatches(pattern, subject));
    this.counts.outMsgs++;
    this.counts.outBytes += data.byteLength;
    if (this.record) {
      this.recorded.push(
        Object.freeze({
          subject,
          data,
          ...(options?.headers ? { headers: options.headers } : {}),
          ...(options?.reply ? { reply: options.reply } : {}),
          delivered,
        }),
      );
    }
    if (!delivered) {
      this.lostCount++;
      return;
    }
    for (const subscription of this.receivers(subject)) {
      this.counts.inMsgs++;
      this.counts.inBytes += data.byteLength;
      subscription.deliver(
        new TestMsg(
          subject,
          subscription.getID(),
          data,
          options?.headers,
          options?.reply,
          (to, body, opts) => this.publish(to, body, opts),
        ),
      );
    }
  }

  /** The subscriptions a message on `subject` reaches: all plain ones, one per queue group. */
  private receivers(subject: string): TestSubscription[] {
    const plain: TestSubscription[] = [];
    const groups = new Map<string, TestSubscription[]>();
    for (const subscription of this.subscriptions) {
      if (!subjectMatches(subscription.getSubject(), subject)) continue;
      const group = subscription.queueGroup;
      if (group === undefined) plain.push(subscription);
      else groups.set(group, [...(groups.get(group) ?? []), subscription]);
    }
    for (const members of groups.values()) {
      plain.push(members[this.queueTurn++ % members.length]);
    }
    return plain;
  }

  publishMessage(msg: Msg): void {
    this.publish(msg.subject, msg.data, { reply: msg.reply, headers: msg.headers });
  }

  respondMessage(msg: Msg): boolean {
    if (!msg.reply) return false;
    this.publish(msg.reply, msg.data, { headers: msg.headers });
    return true;
  }

  /**
   * Subscribes; wildcards `*` and `>` as in NATS. With `callback`, messages are handed to it
   * synchronously inside `publish()`; without, iterate the subscription with `for await`.
   *
   * @throws NatsError `CONNECTION_CLOSED` after `close()`; `BAD_SUBJECT` for an invalid subject.
   */
  subscribe(subject: string, options: SubscriptionOptions = {}): Subscription {
    this.assertOpen();
    checkSubject(subject, true);
    const subscription = new TestSubscription(this.nextSid++, subject, options, (closed) =>
      this.subscriptions.delete(closed),
    );
    this.subscriptions.add(subscription);
    return subscription;
  }

  /**
   * Mutes a subject pattern: messages published on matching subjects are lost (counted in
   * `lost`), as in a partition, until the returned function is called.
   *
   * @example
   * const unmute = connection.mute('backbeat.test-cluster.beat'); // a silence of the pulse
   * unmute();
   * @param pattern A subject, wildcards allowed.
   * @return Unmutes it (idempotent).
   */
  mute(pattern: string): () => void {
    checkSubject(pattern, true);
    const entry = String(pattern);
    this.mutes.push(entry);
    let muted = true;
    return () => {
      if (!muted) return;
      muted = false;
      this.mutes.splice(this.mutes.indexOf(entry), 1);
    };
  }

  /**
   * Goes down: `status()` feeds report `disconnect` (a client's health turns `connected: false`
   * and its claims wait in its buffer); messages published meanwhile are lost. Subscriptions
   * stay, as nats.js restores them. No-op when down or closed.
   */
  disconnect(): void {
    if (!this.up || this.state === 'closed') return;
    this.up = false;
    this.emitStatus({ type: Events.Disconnect, data: SERVER });
  }

  /**
   * Comes back after `disconnect()` (a `reconnect` status event); when up, goes down and back
   * up at once, as nats.js's own `reconnect()` does.
   *
   * @throws NatsError `CONNECTION_CLOSED` (a rejection) after `close()`.
   */
  reconnect(): Promise<void> {
    if (this.state === 'closed') return Promise.reject(closedError());
    this.disconnect();
    this.emitStatus({ type: DebugEvents.Reconnecting, data: SERVER });
    this.up = true;
    this.emitStatus({ type: Events.Reconnect, data: SERVER });
    return Promise.resolve();
  }

  private emitStatus(status: Status): void {
    for (const feed of this.feeds) {
      if (!feed.push(status)) this.feeds.delete(feed);
    }
  }

  /** A feed of status events from now on; `stop()` ends it, as nats.js's does. */
  status(): AsyncIterable<Status> & {
    /** Ends the feed, as nats.js's does. */
    stop(): void;
  } {
    for (const feed of this.feeds) if (feed.ended) this.feeds.delete(feed);
    const feed = new AsyncQueue<Status>();
    if (this.state === 'closed') feed.end();
    else this.feeds.add(feed);
    return feed;
  }

  /** Resolves at once (rejects after `close()`): delivery is synchronous, nothing is in flight. */
  flush(): Promise<void> {
    return this.state === 'closed' ? Promise.reject(closedError()) : Promise.resolve();
  }

  /** Resolves 0: no server, no round trip. */
  rtt(): Promise<number> {
    return this.state === 'closed' ? Promise.reject(closedError()) : Promise.resolve(0);
  }

  /** Ends every subscription (each iterator yields what it holds), then closes. */
  async drain(): Promise<void> {
    if (this.state === 'closed') throw closedError();
    this.state = 'draining';
    for (const subscription of [...this.subscriptions]) subscription.close();
    await this.close();
  }

  /** Closes: subscriptions end, status feeds stop, `closed()` resolves. Idempotent. */
  close(): Promise<void> {
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.up = false;
      for (const subscription of [...this.subscriptions]) subscription.close();
      for (const feed of this.feeds) feed.stop();
      this.feeds.clear();
      this.resolveClosed();
    }
    return Promise.resolve();
  }

  closed(): Promise<void | Error> {
    return this.closedPromise;
  }

  isClosed(): boolean {
    return this.state === 'closed';
  }

  isDraining(): boolean {
    return this.state === 'draining';
  }

  getServer(): string {
    return SERVER;
  }

  stats(): Stats {
    return { ...this.counts };
  }

  /** @throws ConnectionError: the test connection has no JetStream. */
  jetstream(): JetStreamClient {
    throw noJetStream('jetstream()');
  }

  /** Rejects with ConnectionError: the test connection has no JetStream. */
  jetstreamManager(): Promise<JetStreamManager> {
    return Promise.reject(noJetStream('jetstreamManager()'));
  }

  /** Not provided: rejects. */
  request(_subject: string, _payload?: Payload, _options?: RequestOptions): Promise<Msg> {
    return Promise.reject(notProvided('request()'));
  }

  /** Not provided: rejects. */
  requestMany(
    _subject: string,
    _payload?: Payload,
    _options?: Partial<RequestManyOptions>,
  ): Promise<AsyncIterable<Msg>> {
    return Promise.reject(notProvided('requestMany()'));
  }

  /** Not provided: throws. */
  get services(): ServicesAPI {
    throw notProvided('services');
  }

  private assertOpen(): void {
    if (this.state === 'closed') throw closedError();
  }
}

function closedError(): NatsError {
  return new NatsError('the test connection is closed', ErrorCode.ConnectionClosed);
}

function noJetStream(what: string): ConnectionError {
  return new ConnectionError(
    `${what}: the test connection has no JetStream; use statusDelivery 'core' with it, or test JetStream against a real nats-server`,
  );
}

function notProvided(what: string): Error {
  return new Error(`${what} is not provided by the test connection`);
}

/**
 * An in-memory NATS connection for tests: publishes reach matching subscriptions at once, with
 * no server, sockets or timers.
 *
 * @example
 * const connection = createTestConnection();
 * const client = createClient({ clusterId: 'c1', agentId: 'a1', connection });
 * connection.subscribe('backbeat.c1.status.*', { callback: (_err, msg) => seen.push(msg) });
 * @param options `record: false` to keep no copy of published messages (long runs).
 * @return A connection to share with clients and pulses; `close()` it at the end.
 */
export function createTestConnection(options: TestConnectionOptions = {}): TestConnection {
  return new TestConnection(options);
}
