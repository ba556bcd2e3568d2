/**
 * A real client on a test connection and on the test's time: a `TestScheduler` (virtual ms,
 * inside `testScheduler.run`) or jest's fake timers, with scripted pulses and its claims
 * recorded.
 */
import type { MsgHdrs } from 'nats';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { monotonicNow } from '../clock/monotonic-now';
import { BackbeatClient, type ClientRuntime, type StopOptions } from '../client';
import type { Config } from '../config';
import { ConfigError } from '../errors';
import { StatusClaimSchema, type StatusClaim } from '../protocol/status-claim';
import { statusSubject } from '../protocol/subjects';
import { createTestConnection, TestConnection } from './test-connection';
import { TestPulse, type TestPulseOptions } from './test-pulse';
import { TestTimers } from './test-timers';

/** The wall clock of a test client on a scheduler at virtual time 0 (2023-11-14T22:13:20Z). */
export const TEST_EPOCH_MS = 1_700_000_000_000;

/** How long a test client on a scheduler may run, in virtual ms, unless told otherwise. */
export const DEFAULT_MAX_VIRTUAL_MS = 3_600_000;

/** The time of a test client: that of {@link ClientRuntime}, and a guard against endless runs. */
export interface TestClientRuntime extends ClientRuntime {
  /**
   * Virtual ms the client may run before one of its timers throws (a `TestScheduler.run` that
   * would never end, because the test forgot `test.stop()`, fails instead). Default 3,600,000
   * with a `scheduler`, Infinity without (jest guards its own fake timers).
   */
  readonly maxVirtualMs?: number;
}

/** A status claim the test client sent, as it went on the wire. */
export interface RecordedClaim {
  /** `backbeat.<cluster>.status.<agent>`. */
  readonly subject: string;
  /** The claim, parsed from the payload. */
  readonly claim: StatusClaim;
  /** The exact payload bytes (the signed bytes). */
  readonly data: Uint8Array;
  /** The headers, names as written (`x-agent-id`, `Nats-Msg-Id`, `x-signature` …). */
  readonly headers: Readonly<Record<string, string>>;
}

/** What {@link createTestClient} returns. */
export interface TestClient extends AsyncDisposable {
  /** The real client, not yet started. */
  readonly client: BackbeatClient;
  /** Its in-memory connection (shared with the test pulses). */
  readonly connection: TestConnection;
  /** Every claim this agent sent (that reached the connection), in order. */
  readonly claims: readonly RecordedClaim[];
  /** The client's monotonic clock (ms): virtual time on a scheduler. */
  readonly now: () => number;
  /** The client's wall clock (ms since the epoch): `TEST_EPOCH_MS + now()` on a scheduler. */
  readonly wallNow: () => number;
  /** A new scripted pulse on the client's cluster, connection and time. */
  pulse(options?: TestPulseOptions): TestPulse;
  /**
   * Cancels the client's and the pulses' timers at once (so a `TestScheduler.run` can end),
   * then stops the client (`client.stop(options)`), then closes the connection when the test
   * client made it. Idempotent.
   */
  stop(options?: StopOptions): Promise<{ dropped: number }>;
}

/**
 * A client with no NATS, on the test's time. With `{ scheduler: testScheduler }` it keeps
 * virtual time: call it inside `testScheduler.run(…)`, and call `test.stop()` before the run
 * ends (at a virtual time, e.g. `testScheduler.schedule(() => void test.stop(), 5000)`).
 * Without a scheduler it keeps the real clocks, which jest's fake timers replace.
 *
 * @example
 * testScheduler.run(({ expectObservable }) => {
 *   const test = createTestClient({ jitterToleranceMs: 100 }, { scheduler: testScheduler });
 *   expectObservable(test.client.beat$.pipe(map((beat) => beat.source))).toBe(
 *     'a 499ms a 599ms b', { a: 'pulse', b: 'synthetic' });
 *   void test.client.start();
 *   test.pulse({ tempoBpm: 120 }).play(2); // beats at 0 and 500 ms, then silence
 *   testScheduler.schedule(() => void test.stop(), 1200);
 * });
 * @param config Over `defaultConfig()`: clusterId `'test-cluster'`, agentId `'test-agent'`
 * unless given; `connection`, when given, must be a {@link TestConnection} (to share one
 * between test clients; it is not closed at stop).
 * @param runtime `scheduler`, `wallNow` (see {@link ClientRuntime}), `maxVirtualMs`.
 * @return The client, its connection, a pulse maker, its recorded claims, and `stop()`.
 * @throws ConfigError naming the field when the config or the runtime is invalid.
 */
export function createTestClient(
  config: Partial<Config> = {},
  runtime: TestClientRuntime = {},
): TestClient {
  if (typeof config !== 'object' || config === null) {
    throw new ConfigError('config', 'must be an object');
  }
  if (config.connection !== undefined && !(config.connection instanceof TestConnection)) {
    throw new ConfigError(
      'connection',
      'must be a TestConnection (createTestConnection()); use createClient with a real one',
    );
  }
  const time = resolveRuntime(runtime);
  const connection = config.connection ?? createTestConnection();
  const client = new BackbeatClient(
    { clusterId: 'test-cluster', agentId: 'test-agent', ...config, connection },
    { scheduler: time.timers, wallNow: time.wallNow },
  );
  const claims: RecordedClaim[] = [];
  const recorder = connection.subscribe(statusSubject(client.clusterId, client.agentId), {
    callback: (_err, msg) => {
      const claim = parseClaim(msg.data);
      if (claim !== null) {
        claims.push(
          Object.freeze({
            subject: msg.subject,
            claim,
            data: msg.data,
            headers: headerRecord(msg.headers),
          }),
        );
      }
    },
  });
  const pulses: TestPulse[] = [];
  let stopping: Promise<{ dropped: number }> | undefined;
  const stop = (options?: StopOptions) => {
    time.timers.halt();
    for (const pulse of pulses) pulse.stop();
    return (stopping ??= (async () => {
      const result = await client.stop(options);
      recorder.unsubscribe();
      if (config.connection === undefined) await connection.close();
      return result;
    })());
  };
  return {
    client,
    connection,
    claims,
    now: time.now,
    wallNow: time.wallNow,
    pulse: (options = {}) => {
      const pulse = new TestPulse(
        { connection, clusterId: client.clusterId, timers: time.timers, wallNow: time.wallNow },
        options,
        `test-pulse-${pulses.length + 1}`,
      );
      pulses.push(pulse);
      return pulse;
    },
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };
}

/** The test client's clocks and timers. */
function resolveRuntime(runtime: TestClientRuntime): {
  timers: TestTimers;
  now: () => number;
  wallNow: () => number;
} {
  if (typeof runtime !== 'object' || runtime === null) {
    throw new ConfigError('runtime', 'must be an object');
  }
  const { scheduler, maxVirtualMs } = runtime;
  if (scheduler !== undefined && !isScheduler(scheduler)) {
    throw new ConfigError('scheduler', 'must be an RxJS scheduler (now() and schedule())');
  }
  if ('now' in runtime) {
    throw new ConfigError('now', 'is no longer taken: the scheduler tells the monotonic time');
  }
  if (runtime.wallNow !== undefined && typeof runtime.wallNow !== 'function') {
    throw new ConfigError('wallNow', 'must be a function returning ms');
  }
  if (maxVirtualMs !== undefined && !(typeof maxVirtualMs === 'number' && maxVirtualMs > 0)) {
    throw new ConfigError('maxVirtualMs', 'must be a number > 0 (Infinity for no limit)');
  }
  const now = monotonicNow(scheduler);
  // The asyncScheduler family tells the real (or jest's fake) Date.now: not a virtual clock.
  if (scheduler !== undefined && scheduler.now !== asyncScheduler.now) {
    return {
      timers: new TestTimers(scheduler, now, maxVirtualMs ?? DEFAULT_MAX_VIRTUAL_MS),
      now,
      wallNow: runtime.wallNow ?? (() => TEST_EPOCH_MS + scheduler.now()),
    };
  }
  return {
    timers: new TestTimers(scheduler ?? asyncScheduler, now, maxVirtualMs ?? Infinity),
    now,
    wallNow: runtime.wallNow ?? (() => Date.now()),
  };
}

function isScheduler(value: unknown): value is SchedulerLike {
  const candidate = value as Partial<SchedulerLike> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.now === 'function' &&
    typeof candidate.schedule === 'function'
  );
}

const decoder = new TextDecoder();

/** The claim in a payload, or null when it is not one. */
function parseClaim(data: Uint8Array): StatusClaim | null {
  try {
    const parsed = StatusClaimSchema.safeParse(JSON.parse(decoder.decode(data)));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** nats.js headers as a plain record, names as written (the first value of a repeated name). */
function headerRecord(headers: MsgHdrs | undefined): Readonly<Record<string, string>> {
  const record: Record<string, string> = {};
  if (headers) for (const name of headers.keys()) record[name] = headers.get(name);
  return Object.freeze(record);
}
