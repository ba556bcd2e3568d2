/**
 * Helpers of the reliability suite (spec/chaos): counters to wait on, a log of a client's beats
 * with the invariants every chaos test checks, reading a status stream back, and polls (with a
 * deadline) for server state only.
 */
import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection } from 'nats';
import type { Observable } from 'rxjs';
import type { Beat } from '../../lib/beats/beat';
import { statusStreamName } from '../../lib/protocol/subjects';

/** A count that tests can wait on: `reach(n)` resolves once it is at least n. */
export class Counter {
  private count = 0;
  private readonly waiters: { n: number; resolve: () => void }[] = [];

  get value(): number {
    return this.count;
  }

  add(by = 1): void {
    this.count += by;
    for (const waiter of [...this.waiters]) {
      if (this.count >= waiter.n) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }

  reach(n: number): Promise<void> {
    if (this.count >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

/** What a beat log keeps of each beat: enough to check the timeline, nothing more. */
export interface LoggedBeat {
  readonly index: number;
  readonly source: Beat['source'];
  readonly pulseId: string;
  readonly timelineReset: boolean;
  readonly missedBefore: number;
  readonly receivedAtMs: number;
}

/** Every beat of a beat stream, and whether the stream errored or completed. */
export interface BeatLog {
  readonly beats: LoggedBeat[];
  readonly ended: { error?: unknown; completed: boolean };
  /** Resolves with the next beat logged from now on that satisfies `predicate`. */
  next(predicate?: (beat: LoggedBeat) => boolean): Promise<LoggedBeat>;
  stop(): void;
}

/** Logs `beat$` from now on (subscribed at once, before anything else happens). */
export function logBeats(beat$: Observable<Beat>): BeatLog {
  const beats: LoggedBeat[] = [];
  const ended: { error?: unknown; completed: boolean } = { completed: false };
  const waiters: { predicate: (beat: LoggedBeat) => boolean; resolve: (b: LoggedBeat) => void }[] =
    [];
  const subscription = beat$.subscribe({
    next: (beat) => {
      const logged: LoggedBeat = {
        index: beat.beat_index,
        source: beat.source,
        pulseId: beat.pulse_id,
        timelineReset: beat.timelineReset,
        missedBefore: beat.missedBefore,
        receivedAtMs: beat.receivedAtMs,
      };
      beats.push(logged);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(logged)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(logged);
        }
      }
    },
    error: (error: unknown) => {
      ended.error = error;
    },
    complete: () => {
      ended.completed = true;
    },
  });
  return {
    beats,
    ended,
    next: (predicate = () => true) =>
      new Promise((resolve) => waiters.push({ predicate, resolve })),
    stop: () => subscription.unsubscribe(),
  };
}

/**
 * The places where a timeline breaks docs/protocol.md section 9: an index not above the one before
 * it on a beat that is not a flagged timeline reset. Empty when the timeline is sound.
 */
export function timelineViolations(beats: readonly LoggedBeat[]): string[] {
  const violations: string[] = [];
  for (let i = 1; i < beats.length; i++) {
    const before = beats[i - 1];
    const beat = beats[i];
    if (!beat.timelineReset && beat.index <= before.index) {
      violations.push(`#${i}: ${beat.source} ${beat.index} after ${before.source} ${before.index}`);
    }
  }
  return violations;
}

/** One stored message of a stream, as read back. */
export interface StoredMessage {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs | undefined;
}

/** Every message of the cluster's status stream, in stream order, through an ordered consumer. */
export async function readStatusStream(
  nc: NatsConnection,
  clusterId: string,
): Promise<StoredMessage[]> {
  const stream = statusStreamName(clusterId);
  const jsm = await nc.jetstreamManager();
  const { state } = await jsm.streams.info(stream);
  const stored: StoredMessage[] = [];
  if (state.messages === 0) return stored;
  const consumer = await nc.jetstream().consumers.get(stream);
  const messages = await consumer.consume();
  for await (const msg of messages) {
    stored.push({ seq: msg.seq, subject: msg.subject, data: msg.data, headers: msg.headers });
    // `pending` is the consumer's view when the message was sent, and may read 0 before the
    // stream's last messages reach it: read on until every message the stream counted is here.
    if (msg.info.pending === 0 && stored.length >= state.messages) break;
  }
  await messages.close();
  return stored;
}

/**
 * Polls `probe` until it resolves truthy, failing after `deadlineMs` with its last error. For
 * server state only (a restarted JetStream answering again), never for the SDK's timing.
 */
export async function pollServer<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  deadlineMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not ready within ${deadlineMs} ms (last error: ${String(lastError)})`,
      );
    }
    // Give the server a moment between probes; this paces a poll, it times nothing.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A copy of a message's headers with `changes` applied (undefined removes a header). */
export function editedHeaders(
  msg: Pick<Msg, 'headers'>,
  changes: Readonly<Record<string, string | undefined>> = {},
): MsgHdrs {
  const hdrs = natsHeaders();
  const lowered = new Map(Object.entries(changes).map(([k, v]) => [k.toLowerCase(), v]));
  for (const name of msg.headers?.keys() ?? []) {
    if (lowered.has(name.toLowerCase())) continue;
    for (const value of msg.headers!.values(name)) hdrs.append(name, value);
  }
  for (const [name, value] of Object.entries(changes)) {
    if (value !== undefined) hdrs.set(name, value);
  }
  return hdrs;
}

/** Lets queued microtasks (a subscription being set up) run before a round trip is asked for. */
export function macrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

const decoder = new TextDecoder();

/** The JSON object of a payload. */
export function parsed(data: Uint8Array): Record<string, unknown> {
  return JSON.parse(decoder.decode(data)) as Record<string, unknown>;
}

/** Prints a test's measured figures as one JSON line when CHAOS_REPORT is set (for the report). */
export function reportFigures(test: string, figures: Record<string, unknown>): void {
  if (process.env.CHAOS_REPORT) process.stderr.write(`${JSON.stringify({ test, ...figures })}\n`);
}
