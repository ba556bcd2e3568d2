/**
 * nats.js's `connect`, with three fixes to the Node transport of the connections it makes, and
 * of those only: every other nats.js connection in the process keeps nats.js's own transport.
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
 * How it is scoped: nats.js's transport factory is process-global, and `connectNats` sets it only
 * as nats.js's `connect` does before each connection (to nats.js's own Node transport). Instead
 * each connection made here gets an own `transport` accessor on its protocol handler, which
 * swaps the Node transport nats.js makes for each dial (the first and every reconnect) for the
 * subclass below before nats.js uses it. To reach the handler before its first dial,
 * `ProtocolHandler.prototype.dialLoop` is wrapped for the duration of the synchronous
 * `NatsConnectionImpl.connect` call, in which nats.js creates the handler and calls it: no
 * other connection is created meanwhile, and the wrapper removes itself before nats.js runs any
 * option callback.
 * spec/transport/dial-pins.spec.ts fails if a nats.js upgrade changes what this relies on.
 */
import { createConnection, type Socket } from 'node:net';
import type { ConnectionOptions, NatsConnection } from 'nats';
import {
  NatsConnectionImpl,
  ProtocolHandler,
  setTransportFactory,
  type Transport,
} from 'nats/lib/src/nats-base-client';
import { NodeTransport, nodeResolveHost } from 'nats/lib/src/node_transport';

/**
 * nats.js's Node transport, closing its socket also when it never connected, abandoning its
 * dial when its `abandon` signal aborts, and resetting a link declared dead.
 */
class SocketClosingTransport extends NodeTransport {
  /** The socket from the start of the TCP connect (nats.js sets `socket` only once connected). */
  private dialling: Socket | undefined;

  /** @param abandon Aborting it abandons the dial (the first dial's signal, else none). */
  constructor(private readonly abandon: AbortSignal | undefined) {
    super();
  }

  override async connect(
    hp: { hostname: string; port: number; tlsName: string },
    options: ConnectionOptions,
  ): Promise<void> {
    const signal = this.abandon;
    if (signal?.aborted) throw new Error('dial abandoned');
    const abort = (): void => this.abort();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      await super.connect(hp, options);
    } finally {
      signal?.removeEventListener('abort', abort);
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

/** The protocol handlers {@link ownTransports} made dial with the SDK's transport. */
const owning = new WeakSet<ProtocolHandler>();

/**
 * Makes `handler` dial with {@link SocketClosingTransport}: its `prepare()` assigns the transport
 * nats.js's factory made for the next dial and reads it back at once, so the replacement made
 * here is the one that dial uses. Any other kind of transport is left as given.
 */
function ownTransports(handler: ProtocolHandler, dialSignal: () => AbortSignal | undefined): void {
  if (owning.has(handler)) return;
  owning.add(handler);
  let current = handler.transport as Transport | undefined;
  Object.defineProperty(handler, 'transport', {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (given: Transport) => {
      current =
        given instanceof NodeTransport && !(given instanceof SocketClosingTransport)
          ? new SocketClosingTransport(dialSignal())
          : given;
    },
  });
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
 * Connects as nats.js's `connect` does (setting nats.js's Node transport factory, as it does
 * before each connection), with the fixes of this file's comment on this connection's dials,
 * reconnections included, and on no other connection.
 *
 * @example
 * const nc = await connectNats({ servers: 'nats://127.0.0.1:4222', timeout: 2000 });
 *
 * @param options nats.js's connection options.
 * @param signal Aborting it abandons the first dial at once (it then rejects); no effect once
 * connected.
 * @return The connection.
 */
export async function connectNats(
  options: ConnectionOptions,
  signal?: AbortSignal,
): Promise<NatsConnection> {
  setTransportFactory({ factory: () => new NodeTransport(), dnsResolveFn: nodeResolveHost });
  let firstDialSignal = signal;
  const dialSignal = (): AbortSignal | undefined => firstDialSignal;
  // Read now: a getter in the caller's options must not run while `dialLoop` is replaced.
  const ownOptions = { ...options };
  const prototype = ProtocolHandler.prototype;
  const dialLoop = Object.getOwnPropertyDescriptor(prototype, 'dialLoop')?.value as
    ((this: ProtocolHandler) => Promise<void>) | undefined;
  if (dialLoop) {
    prototype.dialLoop = function (this: ProtocolHandler) {
      prototype.dialLoop = dialLoop;
      ownTransports(this, dialSignal);
      return dialLoop.call(this);
    };
  }
  let connecting: Promise<NatsConnection>;
  try {
    connecting = NatsConnectionImpl.connect(ownOptions);
  } finally {
    if (dialLoop) prototype.dialLoop = dialLoop;
  }
  try {
    const nc = (await connecting) as NatsConnectionImpl;
    // Done already unless a nats.js no longer dials from that call: then at least its
    // reconnections get the fixes.
    ownTransports(nc.protocol, dialSignal);
    return nc;
  } finally {
    firstDialSignal = undefined;
  }
}
