/**
 * Helpers of the client suites (spec/client, spec/integration/client-*): a recording logger,
 * hand-made beat frames, raw NATS connections, and waits on the client's own events.
 */
import {
  connect,
  Events,
  headers as natsHeaders,
  type Msg,
  type NatsConnection,
  type Status,
} from 'nats';
import { filter, firstValueFrom, type Observable } from 'rxjs';
import type { Beat } from '../../lib/beats/beat';
import { createClient, type BackbeatClient } from '../../lib/client';
import { HybridLogicalClock } from '../../lib/clock/hlc';
import type { ClientConfig } from '../../lib/config';
import type { Logger } from '../../lib/observability/logger';
import { encodeBase64 } from '../../lib/crypto/base64';
import { parseSigningKey } from '../../lib/crypto/keys';
import { signBytes } from '../../lib/crypto/signature';
import type { HealthStatus } from '../../lib/observability/health';
import { BEAT_FRAME_TYPE } from '../../lib/protocol/beat-frame';
import { startPulse, type Pulse, type PulseOptions } from '../../lib/pulse/pulse';
import { beatSubject } from '../../lib/protocol/subjects';
import { windowIdFor } from '../../lib/protocol/windows';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';

/** What a test started and must end even when it fails half-way. */
const leftovers = new Set<() => Promise<unknown>>();

/** `createClient`, the client stopped by {@link cleanUp} if the test does not stop it. */
export function makeClient(config: ClientConfig): BackbeatClient {
  const client = createClient(config);
  leftovers.add(() => client.stop({ timeoutMs: 0 }));
  return client;
}

/** `startPulse`, the pulse stopped by {@link cleanUp} if the test does not stop it. */
export async function makePulse(options: PulseOptions): Promise<Pulse> {
  const pulse = await startPulse(options);
  leftovers.add(() => pulse.stop());
  return pulse;
}

/** Closes `nc` in {@link cleanUp} unless already closed; returns it. */
export function closeLater(nc: NatsConnection): NatsConnection {
  leftovers.add(() => (nc.isClosed() ? Promise.resolve() : nc.close()));
  return nc;
}

/**
 * Stops every client and pulse and closes every connection the test left behind (stopping twice
 * is harmless), so that a failed test does not keep the run alive. Use it in `afterEach`.
 */
export async function cleanUp(): Promise<void> {
  const pending = [...leftovers];
  leftovers.clear();
  await Promise.all(pending.map((end) => end().catch(() => undefined)));
}

type Level = 'debug' | 'info' | 'warn' | 'error';

/** One logged line. */
export interface LogEntry {
  readonly level: Level;
  readonly fields: unknown;
  readonly message: string | undefined;
}

/** A pino-compatible logger that keeps every line. */
export interface RecordingLogger extends Logger {
  readonly entries: LogEntry[];
  /** The messages logged at `level` that contain `text`. */
  lines(level: Level, text: string): LogEntry[];
}

/** A logger that records what the client logs. */
export function recordingLogger(): RecordingLogger {
  const entries: LogEntry[] = [];
  const at =
    (level: Level) =>
    (objOrMsg: unknown, ...args: unknown[]): void => {
      if (typeof objOrMsg === 'string') entries.push({ level, fields: {}, message: objOrMsg });
      else entries.push({ level, fields: objOrMsg, message: args[0] as string | undefined });
    };
  return {
    entries,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    lines: (level, text) =>
      entries.filter((entry) => entry.level === level && (entry.message ?? '').includes(text)),
  };
}

const encoder = new TextEncoder();

/** The UTF-8 JSON bytes of `value`. */
export function json(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/**
 * A valid BeatFrame object (600 BPM, 4 beats a bar, phase `work`), with `overrides` applied last
 * (to make it invalid on purpose).
 */
export function beatFrame(
  clusterId: string,
  pulseId: string,
  beatIndex: number,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    type: BEAT_FRAME_TYPE,
    cluster_id: clusterId,
    pulse_id: pulseId,
    beat_index: beatIndex,
    downbeat: beatIndex % 4 === 0,
    phase: 'work',
    hlc: new HybridLogicalClock(pulseId).tick(),
    deadline_at: new Date(Date.now() + 100).toISOString(),
    tempo_bpm: 600,
    window_id: windowIdFor(clusterId, beatIndex, 4),
    beats_per_bar: 4,
    ...overrides,
  };
}

/** The `x-signature` / `x-public-key` headers of `payload` signed by `secretKey`. */
export function signatureHeaders(
  secretKey: Uint8Array,
  payload: Uint8Array,
): Record<string, string> {
  const key = parseSigningKey(secretKey);
  return {
    'x-signature': encodeBase64(signBytes(key, payload)),
    'x-public-key': key.publicKeyBase64,
  };
}

/** Publishes raw bytes on the cluster's beat subject. */
export function publishFrame(
  nc: NatsConnection,
  clusterId: string,
  payload: Uint8Array,
  headers: Record<string, string> = {},
): void {
  const entries = Object.entries(headers);
  const hdrs = entries.length === 0 ? undefined : natsHeaders();
  for (const [name, value] of entries) hdrs?.set(name, value);
  nc.publish(beatSubject(clusterId), payload, hdrs ? { headers: hdrs } : {});
}

/**
 * A describe block's own nats-server and a raw connection to it, started before its tests and
 * stopped after them; every client and pulse a test leaves is cleaned up after each test.
 *
 * @param started Receives the server and the raw connection once they are up.
 */
export function useLiveServer(
  started: (live: { server: NatsServerHandle; raw: NatsConnection }) => void,
): void {
  let live: { server: NatsServerHandle; raw: NatsConnection } | undefined;
  afterEach(cleanUp);
  beforeAll(async () => {
    const server = await startNatsServer();
    live = { server, raw: await rawConnection(server.url) };
    started(live);
  });
  afterAll(async () => {
    await live?.raw.close();
    await live?.server.stop();
  });
}

/** A plain connection of the test itself: quick reconnects, forever. */
export function rawConnection(url: string | string[]): Promise<NatsConnection> {
  return connect({
    servers: url,
    reconnectTimeWait: 50,
    reconnectJitter: 0,
    maxReconnectAttempts: -1,
  });
}

/**
 * Resolves at the connection's next status event of `type`; call it before causing the event
 * (a request made while nats.js is still reconnecting is lost, and times out).
 */
export function nextStatus(nc: NatsConnection, type: Status['type']): Promise<void> {
  const feed = nc.status();
  return (async () => {
    for await (const status of feed) {
      if (status.type === type) break;
    }
  })();
}

/** Resolves at the connection's next reconnect; call it before the server goes away. */
export function nextReconnect(nc: NatsConnection): Promise<void> {
  return nextStatus(nc, Events.Reconnect);
}

/**
 * Resolves once the client has processed everything `raw` published so far: `raw`'s round trip
 * puts those messages in the client's outbound queue at the server before the client's own
 * round trip (its PONG) comes back.
 */
export async function clientHasSeen(raw: NatsConnection, client: BackbeatClient): Promise<void> {
  await raw.flush();
  await client.flush();
}

/** The next beat of `client` that satisfies `predicate`. */
export function nextBeat(
  client: BackbeatClient,
  predicate: (beat: Beat) => boolean = () => true,
): Promise<Beat> {
  return firstValueFrom(client.beat$.pipe(filter(predicate)));
}

/** The first health value (the current one included) that satisfies `predicate`. */
export function healthWhere(
  client: BackbeatClient,
  predicate: (health: HealthStatus) => boolean,
): Promise<HealthStatus> {
  return firstValueFrom(client.health$.pipe(filter(predicate)));
}

/** Every value of `source$` collected until read (a hot stream's log). */
export function record<T>(source$: Observable<T>): { values: T[]; stop: () => void } {
  const values: T[] = [];
  const subscription = source$.subscribe((value) => values.push(value));
  return { values, stop: () => subscription.unsubscribe() };
}

/** Subscribes to `subject`; `take(n)` resolves with the first n messages. */
export function collect(
  nc: NatsConnection,
  subject: string,
): { messages: Msg[]; take: (n: number) => Promise<Msg[]> } {
  const messages: Msg[] = [];
  const waiters: { n: number; resolve: (msgs: Msg[]) => void }[] = [];
  nc.subscribe(subject, {
    callback: (_err, msg) => {
      messages.push(msg);
      for (const waiter of waiters.filter((w) => messages.length >= w.n)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(messages.slice(0, waiter.n));
      }
    },
  });
  return {
    messages,
    take: (n) =>
      messages.length >= n
        ? Promise.resolve(messages.slice(0, n))
        : new Promise((resolve) => waiters.push({ n, resolve })),
  };
}

/** The `l:c` part of an HLC stamp (fixed width: plain string order is (l, c) order). */
export function hlcTime(stamp: string): string {
  return stamp.slice(0, 17);
}
