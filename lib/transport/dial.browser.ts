/**
 * The browser edge of `dial.ts`: nats.js's WebSocket client (`nats.ws`) dials, so a client or
 * pulse given `natsUrl: 'ws://…'` instead of a `connection` connects from a page too. A page's
 * WebSocket cannot be reset as a TCP socket can: aborting closes it.
 */
import type { ConnectionOptions, NatsConnection } from 'nats';
import { connect } from 'nats.ws';

/**
 * Closes a connection at once (the WebSocket edge of `abortConnection`).
 *
 * @example
 * await abortConnection(nc);
 * @param nc The connection.
 * @return Resolves when it is closed.
 */
export function abortConnection(nc: NatsConnection): Promise<void> {
  return nc.close().catch(() => undefined);
}

/**
 * Connects over WebSocket with nats.ws, which shares nats.js's connection options and API.
 *
 * @example
 * const nc = await connectNats({ servers: 'ws://127.0.0.1:8080', timeout: 2000 });
 * @param options nats.js's connection options; servers are `ws://` or `wss://` URLs.
 * @param signal Aborting it abandons the dial (it then rejects, and a connection that completes
 * afterwards is closed); no effect once connected.
 * @return The connection.
 */
export async function connectNats(
  options: ConnectionOptions,
  signal?: AbortSignal,
): Promise<NatsConnection> {
  if (signal?.aborted) throw new Error('dial abandoned');
  const dialled = connect(options);
  if (signal === undefined) return dialled;
  // One signal serves every retry of a first dial: each dial's listener goes with its dial.
  let onAbort = (): void => undefined;
  const abandoned = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error('dial abandoned'));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([dialled, abandoned]);
  } catch (err) {
    void dialled.then(
      (nc) => abortConnection(nc),
      () => undefined,
    );
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
