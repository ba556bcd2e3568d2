/**
 * nats.js's `connect`, without its socket leak, with dials that can be abandoned, and with
 * links declared dead closed abortively.
 *
 * - nats.js 2.29 leaves open the socket of a dial that timed out after TCP connected but before
 *   the server sent `INFO`: its transport's `close` returns early while not connected. Dialling
 *   a host that never speaks NATS (a wrong port, a proxy that holds connections) thus kept one
 *   socket per try, and the SDK retries its first dial until it connects. The transport here
 *   closes that socket.
 * - A dial in progress holds a socket and nats.js's dial timer until `timeout`; `connectNats`
 *   takes an `AbortSignal` that ends it at once, so nothing of a stopped client outlives it.
 * - When nats.js declares a link dead (its pings went unanswered), it first flushes the socket,
 *   which never completes when the peer stopped reading, then closes it gracefully, which lets
 *   the kernel deliver what was still unsent whenever the network heals: old claims arriving
 *   after newer ones sent over the next link. The transport here resets that socket instead
 *   (`resetAndDestroy`): bytes the peer never acknowledged are discarded, never delivered late.
 *
 * Everything else is nats.js's.
 */
import { createConnection, type Socket } from 'node:net';
import type { ConnectionOptions, NatsConnection } from 'nats';
import { NatsConnectionImpl, setTransportFactory } from 'nats/lib/src/nats-base-client';
import { NodeTransport, nodeResolveHost } from 'nats/lib/src/node_transport';

/**
 * The option key that carries a dial's AbortSignal to its transports: nats.js copies the
 * options it is given (string keys only) and hands them to each transport's `connect`.
 */
const DIAL_SIGNAL = 'backbeatDialSignal';

/**
 * nats.js's Node transport, closing its socket also when it never connected, abandoning its
 * dial when the dial's signal aborts, and resetting a link declared dead.
 */
class SocketClosingTransport extends NodeTransport {
  /** The socket from the start of the TCP connect (nats.js sets `socket` only once connected). */
  private dialling: Socket | undefined;

  override async connect(
    hp: { hostname: string; port: number; tlsName: string },
    options: ConnectionOptions,
  ): Promise<void> {
    const signal = (options as Record<string, unknown>)[DIAL_SIGNAL] as AbortSignal | undefined;
    if (signal?.aborted) throw new Error('dial abandoned');
    const abandon = (): void => this.abort();
    signal?.addEventListener('abort', abandon, { once: true });
    try {
      await super.connect(hp, options);
    } finally {
      signal?.removeEventListener('abort', abandon);
      this.dialling = undefined;
    }
  }

  /** nats.js's `dial`, keeping the socket from the start so that an abort can end it. */
  override dial(hp: { hostname: string; port: number }): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      let dialError: Error | undefined;
      const socket = createConnection(hp.port, hp.hostname, () => {
        socket.removeAllListeners();
        resolve(socket);
      });
      this.dialling = socket;
      socket.on('error', (err) => {
        dialError = err;
      });
      socket.on('close', () => {
        socket.removeAllListeners();
        reject(dialError ?? new Error('dial abandoned'));
      });
      socket.setNoDelay(true);
    });
  }

  override close(err?: Error): Promise<void> {
    // `socket` is unset until TCP connects (typed as always set).
    if (!this.connected) (this.socket as NodeTransport['socket'] | undefined)?.destroy();
    return super.close(err);
  }

  /** A link declared dead (or a reconnect asked for): reset, so nothing unsent goes out late. */
  override disconnect(): void {
    this.abort();
    void this.close();
  }

  /** Resets the socket (or the one being dialled): unsent bytes are discarded. */
  abort(): void {
    const socket = (this.socket as Socket | undefined) ?? this.dialling;
    if (!socket || socket.destroyed) return;
    // nats.js may have removed its listeners already: a failed reset must not be uncaught.
    socket.on('error', () => undefined);
    // A socket still connecting would be reset only once connected, and one already shut down
    // for writing (its FIN sent) cannot be reset (libuv refuses): end those at once.
    if (socket.connecting || socket.writableEnded) socket.destroy();
    else socket.resetAndDestroy();
  }
}

/**
 * Closes a connection made by {@link connectNats} at once, resetting its socket: what nats.js
 * had not yet handed to the network, and what the peer had not acknowledged, is discarded. For
 * a link that cannot be flushed (a partition): a graceful close would leave those bytes to be
 * delivered whenever it heals.
 *
 * @example
 * await Promise.race([nc.drain(), deadline]).then(undefined, () => abortConnection(nc));
 * @param nc A connection made by {@link connectNats} (any other is closed normally).
 * @return Resolves when nats.js has closed it.
 */
export function abortConnection(nc: NatsConnection): Promise<void> {
  const transport = (nc as Partial<NatsConnectionImpl>).protocol?.transport;
  if (transport instanceof SocketClosingTransport) transport.abort();
  return nc.close().catch(() => undefined);
}

/**
 * Connects as nats.js's `connect` does (which sets its Node transport before each connection;
 * this sets the one above, which nats.js's reconnections of this connection use too, until the
 * next plain `connect` anywhere in the process sets nats.js's own again).
 *
 * @example
 * const nc = await connectNats({ servers: 'nats://127.0.0.1:4222', timeout: 2000 });
 *
 * @param options nats.js's connection options.
 * @param signal Aborting it abandons the dial at once (it then rejects); no effect once connected.
 * @return The connection.
 */
export function connectNats(
  options: ConnectionOptions,
  signal?: AbortSignal,
): Promise<NatsConnection> {
  setTransportFactory({
    factory: () => new SocketClosingTransport(),
    dnsResolveFn: nodeResolveHost,
  });
  return NatsConnectionImpl.connect(
    signal === undefined ? options : ({ ...options, [DIAL_SIGNAL]: signal } as ConnectionOptions),
  );
}
