/**
 * Dialling NATS for the command: one attempt at start, with errors that say what to do, and
 * connection events reported on stderr.
 */
import { Events, type NatsConnection } from 'nats';
import { connectNats } from '../transport/dial';
import { DEFAULT_PULSE_NATS_URL } from '../pulse/options';
import { CliRuntimeError, type TextSink } from './cli-io';

/** NATS server when neither `--nats` nor `NATS_URL` names one (as the pulse's and client's). */
export const DEFAULT_NATS_URL = DEFAULT_PULSE_NATS_URL;

/** How long the first dial may take before the command gives up. */
const CONNECT_TIMEOUT_MS = 5000;

/** Reconnect wait of the long-running commands: short, so that few beats fall in a gap. */
const RECONNECT_WAIT_MS = 250;

/** nats.js error codes (and system ones) meaning that no server answered at the address. */
const UNREACHABLE = new Set([
  'CONNECTION_REFUSED',
  'CONNECTION_TIMEOUT',
  'TIMEOUT',
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** nats.js error codes meaning that a server answered and refused the credentials. */
const REFUSED = new Set([
  'AUTHORIZATION_VIOLATION',
  'AUTHENTICATION_EXPIRED',
  'AUTHENTICATION_TIMEOUT',
  'BAD_AUTHENTICATION',
]);

/**
 * The message for a failed first dial: what happened and what to do.
 *
 * @example
 * dialFailureMessage(['nats://localhost:4222'], { code: 'CONNECTION_REFUSED' });
 * // 'cannot reach NATS at nats://localhost:4222: is nats-server running? …'
 */
export function dialFailureMessage(servers: readonly string[], error: unknown): string {
  const where = servers.join(', ');
  const code: unknown = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && UNREACHABLE.has(code)) {
    return `cannot reach NATS at ${where}: is nats-server running? start one (nats-server -js) or pass --nats URL (or set NATS_URL)`;
  }
  if (typeof code === 'string' && REFUSED.has(code)) {
    return `NATS at ${where} refused the connection (${code}): put the credentials in the URL (nats://user:password@host:4222) or ask for an account`;
  }
  return `cannot connect to NATS at ${where}: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * Dials NATS once; when it works, the connection reconnects for ever (every 250 ms) if
 * `reconnect` is set, and never otherwise.
 *
 * @example
 * const connection = await dialNats(['nats://localhost:4222'], { name: 'backbeat-tap', reconnect: true });
 * @param options The connection's name, and whether to reconnect after a loss.
 * @throws CliRuntimeError saying why it failed and what to do.
 */
export async function dialNats(
  servers: readonly string[],
  options: { name: string; reconnect: boolean },
): Promise<NatsConnection> {
  try {
    return await connectNats({
      servers: [...servers],
      name: options.name,
      timeout: CONNECT_TIMEOUT_MS,
      reconnect: options.reconnect,
      maxReconnectAttempts: options.reconnect ? -1 : 0,
      reconnectTimeWait: RECONNECT_WAIT_MS,
    });
  } catch (error) {
    throw new CliRuntimeError(dialFailureMessage(servers, error), { cause: error });
  }
}

/**
 * Writes a line to `stderr` for each loss and recovery of the connection, until it closes.
 *
 * @example
 * reportConnectionEvents(connection, io.stderr, 'backbeat tap');
 * @param label The line's prefix.
 */
export function reportConnectionEvents(
  connection: NatsConnection,
  stderr: TextSink,
  label: string,
): void {
  void (async () => {
    for await (const status of connection.status()) {
      // For these two events `data` is the server's address.
      const server = typeof status.data === 'string' ? status.data : 'the server';
      if (status.type === Events.Disconnect) {
        stderr.write(`${label}: lost NATS at ${server}; reconnecting\n`);
      } else if (status.type === Events.Reconnect) {
        stderr.write(`${label}: reconnected to NATS at ${server}\n`);
      }
    }
  })();
}

/**
 * Resolves when `signal` is aborted (at once if it already is); never without a signal.
 */
export function aborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal === undefined) return;
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
