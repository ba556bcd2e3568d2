/**
 * Subscriptions and messages of the test connection: NATS subject matching (`*`, `>`), the
 * callback and `for await` forms of a subscription, and messages that can be answered.
 */
import {
  ErrorCode,
  NatsError,
  type Msg,
  type MsgHdrs,
  type NatsError as NatsErrorType,
  type Payload,
  type PublishOptions,
  type ReviverFn,
  type Subscription,
  type SubscriptionOptions,
} from 'nats';
import { AsyncQueue } from './async-queue';

const decoder = new TextDecoder();

/**
 * Whether a subscription's subject pattern matches a subject: `*` stands for one token, a final
 * `>` for one or more.
 *
 * @example
 * subjectMatches('backbeat.*.status.>', 'backbeat.c1.status.agent-1'); // true
 * subjectMatches('backbeat.c1.>', 'backbeat.c1'); // false: `>` needs a token
 * @param pattern The subscription's subject, wildcards allowed.
 * @param subject A published subject.
 * @return Whether a message on `subject` reaches the subscription.
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  const want = pattern.split('.');
  const have = subject.split('.');
  for (let i = 0; i < want.length; i++) {
    if (want[i] === '>') return have.length > i;
    if (i >= have.length || (want[i] !== '*' && want[i] !== have[i])) return false;
  }
  return want.length === have.length;
}

/**
 * Throws nats.js's `BAD_SUBJECT` error unless `subject` is a valid subject: non-empty tokens
 * without spaces; wildcards only when `wildcards` (`*` a whole token, `>` the last one).
 */
export function checkSubject(subject: string, wildcards: boolean): void {
  const tokens = typeof subject === 'string' ? subject.split('.') : [''];
  const valid = tokens.every((token, i) => {
    if (token === '' || /\s/.test(token)) return false;
    if (token === '*') return wildcards;
    if (token === '>') return wildcards && i === tokens.length - 1;
    return !token.includes('*') && !token.includes('>');
  });
  if (!valid) {
    throw new NatsError(
      `the test connection refuses the ${wildcards ? 'subscription' : 'publish'} subject '${String(subject)}'`,
      ErrorCode.BadSubject,
    );
  }
}

/** A delivered message; `respond` publishes to its reply subject on the same connection. */
export class TestMsg implements Msg {
  constructor(
    readonly subject: string,
    readonly sid: number,
    readonly data: Uint8Array,
    readonly headers: MsgHdrs | undefined,
    readonly reply: string | undefined,
    private readonly publish: (subject: string, data?: Payload, options?: PublishOptions) => void,
  ) {}

  respond(payload?: Payload, options?: PublishOptions): boolean {
    if (this.reply === undefined) return false;
    this.publish(this.reply, payload, options);
    return true;
  }

  json<T>(reviver?: ReviverFn): T {
    return JSON.parse(this.string(), reviver) as T;
  }

  string(): string {
    return decoder.decode(this.data);
  }
}

/**
 * One subscription of the test connection. With a `callback`, each message is handed to it
 * synchronously, inside `publish()` (so what it throws surfaces there, in the test); without
 * one, messages wait for `for await`.
 */
export class TestSubscription implements Subscription {
  readonly closed: Promise<void>;
  /** The queue group, when subscribed with one: each message reaches one member of a group. */
  readonly queueGroup: string | undefined;
  private readonly queue = new AsyncQueue<Msg>();
  private readonly userCallback: ((err: NatsErrorType | null, msg: Msg) => void) | undefined;
  private max: number | undefined;
  private received = 0;
  private processed = 0;
  private isDone = false;
  private resolveClosed: () => void = () => undefined;

  constructor(
    private readonly sid: number,
    private readonly subject: string,
    options: SubscriptionOptions,
    private readonly onClose: (subscription: TestSubscription) => void,
  ) {
    this.userCallback = options.callback;
    this.max = options.max;
    this.queueGroup = options.queue;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  /** Takes one message published on a matching subject. */
  deliver(msg: Msg): void {
    if (this.isDone) return;
    this.received++;
    if (this.userCallback) {
      this.processed++;
      this.userCallback(null, msg);
    } else {
      this.queue.push(msg);
    }
    if (this.max !== undefined && this.received >= this.max) this.close();
  }

  /** Ends the subscription: the iterator form yields what it holds, then ends. Idempotent. */
  close(): void {
    if (this.isDone) return;
    this.isDone = true;
    this.queue.end();
    this.onClose(this);
    this.resolveClosed();
  }

  unsubscribe(max?: number): void {
    if (max !== undefined && max > this.received) this.max = max;
    else this.close();
  }

  drain(): Promise<void> {
    this.close();
    return this.closed;
  }

  isDraining(): boolean {
    return false;
  }

  isClosed(): boolean {
    return this.isDone;
  }

  callback(err: NatsErrorType | null, msg: Msg): void {
    this.userCallback?.(err, msg);
  }

  getSubject(): string {
    return this.subject;
  }

  getReceived(): number {
    return this.received;
  }

  getProcessed(): number {
    return this.userCallback ? this.processed : this.received - this.queue.pending;
  }

  getPending(): number {
    return this.queue.pending;
  }

  getID(): number {
    return this.sid;
  }

  getMax(): number | undefined {
    return this.max;
  }

  [Symbol.asyncIterator](): AsyncIterator<Msg> {
    if (this.userCallback) {
      throw new TypeError('a subscription with a callback cannot be iterated (as in nats.js)');
    }
    return this.queue;
  }
}
