/**
 * nats.js's `connect`, without its socket leak. nats.js 2.29 leaves open the socket of a dial
 * that timed out after TCP connected but before the server sent `INFO`: its transport's `close`
 * returns early while not connected. Dialling a host that never speaks NATS (a wrong port, a
 * proxy that holds connections) thus kept one socket per try, and the SDK retries its first dial
 * until it connects. The transport here closes that socket; everything else is nats.js's.
 */
import type { ConnectionOptions, NatsConnection } from 'nats';
import { NatsConnectionImpl, setTransportFactory } from 'nats/lib/src/nats-base-client';
import { NodeTransport, nodeResolveHost } from 'nats/lib/src/node_transport';

/** nats.js's Node transport, closing its socket also when it never connected. */
class SocketClosingTransport extends NodeTransport {
  override close(err?: Error): Promise<void> {
    // `socket` is unset until TCP connects (typed as always set).
    if (!this.connected) (this.socket as NodeTransport['socket'] | undefined)?.destroy();
    return super.close(err);
  }
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
 * @return The connection.
 */
export function connectNats(options: ConnectionOptions): Promise<NatsConnection> {
  setTransportFactory({
    factory: () => new SocketClosingTransport(),
    dnsResolveFn: nodeResolveHost,
  });
  return NatsConnectionImpl.connect(options);
}
