/**
 * connectNats against a host that accepts TCP but never speaks NATS, and against a real server.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { connect, Events, type ConnectionOptions, type NatsConnection } from 'nats';
import { abortConnection, connectNats } from '../../lib/transport/dial';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';
import { startTcpProxy } from '../support/tcp-proxy';

describe('connectNats', () => {
  let silent: Server;
  let url: string;
  const accepted: Socket[] = [];

  beforeAll(async () => {
    silent = createServer((socket) => {
      accepted.push(socket);
      // A dial abandoned by its signal is reset: not an error of this host.
      socket.on('error', () => undefined);
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    url = `nats://127.0.0.1:${(silent.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    for (const socket of accepted) socket.destroy();
    silent.close();
    await once(silent, 'close');
  });

  /** The next socket the silent host accepts, and a promise of its closing. */
  function nextAccepted(): Promise<{ closed: Promise<unknown> }> {
    return once(silent, 'connection').then(([socket]) => ({
      closed: once(socket as Socket, 'close'),
    }));
  }

  /** Whether `promise` settles within a few turns of the event loop. */
  async function settlesSoon(promise: Promise<unknown>): Promise<boolean> {
    let settled = false;
    void promise.then(() => (settled = true));
    for (let turn = 0; turn < 20 && !settled; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    return settled;
  }

  it('closes the socket of a dial the host never answered', async () => {
    const accept = nextAccepted();
    await expect(connectNats({ servers: url, timeout: 200, reconnect: false })).rejects.toThrow();
    const { closed } = await accept;
    await expect(settlesSoon(closed)).resolves.toBe(true);
  });

  it('is needed: nats.js’s own connect leaves that socket open', async () => {
    const accept = nextAccepted();
    await expect(connect({ servers: url, timeout: 200, reconnect: false })).rejects.toThrow();
    const { closed } = await accept;
    await expect(settlesSoon(closed)).resolves.toBe(false);
  });

  it('abandons a dial at once when its signal aborts', async () => {
    const accept = nextAccepted();
    const controller = new AbortController();
    const dialling = connectNats(
      { servers: url, timeout: 60_000, reconnect: false },
      controller.signal,
    );
    const { closed } = await accept;
    controller.abort();
    await expect(dialling).rejects.toThrow();
    await closed;
  });

  it('refuses to start a dial whose signal has aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      connectNats({ servers: url, timeout: 60_000, reconnect: false }, controller.signal),
    ).rejects.toThrow();
  });

  describe('against a real server', () => {
    let server: NatsServerHandle;
    beforeAll(async () => {
      server = await startNatsServer();
    });
    afterAll(async () => {
      await server.stop();
    });

    it('connects, reconnects after a restart, and closes', async () => {
      const nc = await connectNats({ servers: server.url, reconnectTimeWait: 50 });
      const reconnected = (async () => {
        for await (const status of nc.status()) if (status.type === Events.Reconnect) return true;
        return false;
      })();
      await server.restart();
      await expect(reconnected).resolves.toBe(true);
      const sub = nc.subscribe('dial.check', { max: 1 });
      nc.publish('dial.check', new TextEncoder().encode('after the restart'));
      for await (const msg of sub) expect(msg.string()).toBe('after the restart');
      await nc.close();
      expect(nc.isClosed()).toBe(true);
    });

    /**
     * Publishes `held` through a partitioned proxy, ends the connection with `end`, heals, and
     * returns what an observer on the server received of it.
     */
    async function heldThroughPartition(
      end: (nc: NatsConnection) => Promise<void>,
      options: ConnectionOptions = {},
      expectHeld = false,
    ): Promise<string[]> {
      const observer = await connect({ servers: server.url });
      const seen: string[] = [];
      let arrived = (): void => undefined;
      const heldArrived = new Promise<void>((resolve) => (arrived = resolve));
      observer.subscribe('dial.held', {
        callback: (_err, msg) => {
          seen.push(msg.string());
          arrived();
        },
      });
      await observer.flush();
      const proxy = await startTcpProxy({ targetPort: server.port });
      try {
        const nc = await connectNats({ ...options, servers: proxy.url, reconnect: false });
        await nc.flush();
        proxy.partition();
        nc.publish('dial.held', new TextEncoder().encode('held'));
        // Let nats.js write it to the socket (it batches publishes within a tick).
        await new Promise((resolve) => setImmediate(resolve));
        const ends = proxy.endsSeen;
        await end(nc);
        await proxy.waitForEnds(ends + 1);
        proxy.heal();
        await proxy.waitForConnections((count) => count === 0);
        // The server routes the healed connection's bytes on its own schedule, so an observer's
        // flush does not order after them: where they are expected, wait for them (the test's
        // timeout is the failure guard).
        if (expectHeld) await heldArrived;
        await observer.flush();
        return seen;
      } finally {
        await proxy.close();
        await observer.close();
      }
    }

    it('abortConnection resets the socket: what the partition held is never delivered', async () => {
      await expect(heldThroughPartition((nc) => abortConnection(nc))).resolves.toEqual([]);
    });

    it('is needed: a graceful close lets the held bytes through once the partition heals', async () => {
      await expect(heldThroughPartition((nc) => nc.close(), {}, true)).resolves.toEqual(['held']);
    });

    it('resets a link its pings declare dead: what the partition held is never delivered', async () => {
      const held = heldThroughPartition(
        async (nc) => {
          // reconnect: false, so the dead link closes the connection.
          await nc.closed();
        },
        { pingInterval: 50, maxPingOut: 1 },
      );
      await expect(held).resolves.toEqual([]);
    });
  });
});
