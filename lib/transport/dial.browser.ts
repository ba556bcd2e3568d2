/**
 * The browser edge of `dial.ts`: nats.js's WebSocket client (`nats.ws`) dials, so a client or
 * pulse given `natsUrl: 'ws://…'` instead of a `connection` connects from a page too.
 */
import type { ConnectionOptions, NatsConnection } from 'nats';
import { connect } from 'nats.ws';

/**
 * Connects over WebSocket with nats.ws, which shares nats.js's connection options and API.
 *
 * @example
 * const nc = await connectNats({ servers: 'ws://127.0.0.1:8080', timeout: 2000 });
 * @param options nats.js's connection options; servers are `ws://` or `wss://` URLs.
 * @return The connection.
 */
export function connectNats(options: ConnectionOptions): Promise<NatsConnection> {
  return connect(options);
}
