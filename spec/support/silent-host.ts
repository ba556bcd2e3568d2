/**
 * A TCP host that accepts connections and never speaks NATS: a wrong port, or a proxy that holds
 * connections. Dials to it connect at TCP and then wait for an `INFO` that never comes.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';

/** An accepted socket, and a promise of its closing. */
export interface AcceptedSocket {
  readonly socket: Socket;
  readonly closed: Promise<void>;
}

/** A running silent host. */
export interface SilentHost {
  readonly server: Server;
  readonly port: number;
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  /** Every socket accepted, in order. */
  readonly accepted: readonly AcceptedSocket[];
  /** The next socket accepted. */
  nextAccepted(): Promise<AcceptedSocket>;
  /** Destroys every accepted socket and closes the host. */
  stop(): Promise<void>;
}

/**
 * Starts a silent host on a free port of 127.0.0.1.
 *
 * @example
 * const host = await startSilentHost();
 * const dial = host.nextAccepted();
 * await expect(connectNats({ servers: host.url, timeout: 200 })).rejects.toThrow();
 * await (await dial).closed; // the SDK closed the socket of the dial it gave up
 */
export async function startSilentHost(): Promise<SilentHost> {
  const accepted: AcceptedSocket[] = [];
  const waiting: ((socket: AcceptedSocket) => void)[] = [];
  const server = createServer((socket) => {
    // Not events.once: it would reject on the reset's 'error', which is no failure here.
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // A dial abandoned or given up is reset by the client: not an error of this host.
    socket.on('error', () => undefined);
    const entry = { socket, closed };
    accepted.push(entry);
    for (const resolve of waiting.splice(0)) resolve(entry);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    server,
    port,
    url: `nats://127.0.0.1:${port}`,
    accepted,
    nextAccepted: () => new Promise((resolve) => waiting.push(resolve)),
    stop: async () => {
      for (const { socket } of accepted) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
