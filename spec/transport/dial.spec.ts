/**
 * connectNats against a host that accepts TCP but never speaks NATS, and against a real server:
 * its fixes hold on its own connections, reconnections included, and on no other.
 */
import { connect, Events, type ConnectionOptions, type NatsConnection } from 'nats';
import type { NatsConnectionImpl } from 'nats/lib/src/nats-base-client';
import { NodeTransport } from 'nats/lib/src/node_transport';
import { abortConnection, connectNats } from '../../lib/transport/dial';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';
import { startSilentHost, type AcceptedSocket, type SilentHost } from '../support/silent-host';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

describe('connectNats', () => {
  let silent: SilentHost;
  let url: string;

  beforeAll(async () => {
    silent = await startSilentHost();
    url = silent.url;
  });
  afterAll(() => silent.stop());

  const nextAccepted = (): Promise<AcceptedSocket> => silent.nextAccepted();

  /** Whether `promise` settles within a few turns of the event loop (a `false` proves little). */
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
    await closed; // a socket left open fails the test by its timeout
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
     * Publishes `held` through a partitioned proxy on the connection `dial` made through it,
     * ends that connection with `end`, heals, and returns what an observer on the server
     * received of it.
     */
    async function heldThroughPartition(
      dial: (proxy: TcpProxy) => Promise<NatsConnection>,
      end: (nc: NatsConnection) => Promise<void>,
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
      let nc: NatsConnection | undefined;
      try {
        nc = await dial(proxy);
        await nc.flush();
        proxy.partition();
        nc.publish('dial.held', new TextEncoder().encode('held'));
        // Let nats.js write it to the socket (it batches publishes within a tick).
        await new Promise((resolve) => setImmediate(resolve));
        const ends = proxy.endsSeen;
        await end(nc);
        await proxy.waitForEnds(ends + 1);
        proxy.heal();
        // The server routes the healed connection's bytes on its own schedule, so an observer's
        // flush does not order after them: where they are expected, wait for them (the test's
        // timeout is the failure guard). nats.js's own transport leaves the socket of a dial cut
        // short open (see above): only a reset link is sure to leave the proxy.
        if (expectHeld) await heldArrived;
        else await proxy.waitForConnections((count) => count === 0);
        await observer.flush();
        return seen;
      } finally {
        await nc?.close();
        await proxy.close();
        await observer.close();
      }
    }

    /** The SDK's connection through `proxy`; a link silent for ~100 ms is declared dead. */
    const sdkDial =
      (options: ConnectionOptions = {}) =>
      (proxy: TcpProxy): Promise<NatsConnection> =>
        connectNats({ ...options, servers: proxy.url, reconnect: false });

    it('abortConnection resets the socket: what the partition held is never delivered', async () => {
      await expect(heldThroughPartition(sdkDial(), (nc) => abortConnection(nc))).resolves.toEqual(
        [],
      );
    });

    it('is needed: a graceful close lets the held bytes through once the partition heals', async () => {
      await expect(heldThroughPartition(sdkDial(), (nc) => nc.close(), true)).resolves.toEqual([
        'held',
      ]);
    });

    it('resets a link its pings declare dead: what the partition held is never delivered', async () => {
      const held = heldThroughPartition(
        sdkDial({ pingInterval: 50, maxPingOut: 1 }),
        // reconnect: false, so the dead link closes the connection.
        (nc) => nc.closed().then(() => undefined),
      );
      await expect(held).resolves.toEqual([]);
    });

    /** Resolves at the next event of `type` on `nc`'s status feed (watched from now). */
    function nextStatus(nc: NatsConnection, type: Events): Promise<void> {
      const feed = nc.status();
      return (async () => {
        for await (const status of feed) if (status.type === type) return;
        throw new Error(`the connection closed before ${type}`);
      })();
    }

    /** Which transport the connection dials with now. */
    function transportOf(nc: NatsConnection): 'nats.js' | 'sdk' | 'other' {
      const transport = (nc as NatsConnectionImpl).protocol.transport;
      if (transport.constructor === NodeTransport) return 'nats.js';
      return transport instanceof NodeTransport ? 'sdk' : 'other';
    }

    /** Reconnect options: a link silent for ~100 ms is declared dead, redialled after 50 ms. */
    const quick: ConnectionOptions = {
      reconnectTimeWait: 50,
      pingInterval: 50,
      maxPingOut: 1,
      timeout: 500,
    };

    it('leaves connections made with nats.js’s connect, before and after, on nats.js’s transport across reconnects', async () => {
      const before = await connect({ ...quick, servers: server.url });
      const sdk = await connectNats({ ...quick, servers: server.url });
      const after = await connect({ ...quick, servers: server.url });
      const all = [before, sdk, after];
      try {
        const back = all.map((nc) => nextStatus(nc, Events.Reconnect));
        await server.restart();
        await Promise.all(back);
        expect(all.map(transportOf)).toEqual(['nats.js', 'sdk', 'nats.js']);
      } finally {
        await Promise.all(all.map((nc) => nc.close()));
      }
    });

    it('keeps its transport on a first dial during which nats.js’s connect is called, and leaves that one nats.js’s', async () => {
      // Both dial after this turn (nats.js resolves the host first), so the user's `connect`
      // has set nats.js's transport factory again before either dial starts.
      const sdk = connectNats({ ...quick, servers: server.url });
      const user = connect({ ...quick, servers: server.url });
      const both = await Promise.all([sdk, user]);
      try {
        expect(both.map(transportOf)).toEqual(['sdk', 'nats.js']);
      } finally {
        await Promise.all(both.map((nc) => nc.close()));
      }
    });

    it('leaves a user’s connection nats.js’s graceful close of a dead link, also after connectNats', async () => {
      let sdk: NatsConnection | undefined;
      const held = heldThroughPartition(
        async (proxy) => {
          const nc = await connect({ ...quick, servers: proxy.url });
          sdk = await connectNats({ servers: server.url });
          // The link dialled after connectNats is the one declared dead.
          const back = nextStatus(nc, Events.Reconnect);
          proxy.resetConnections();
          await back;
          expect(transportOf(nc)).toBe('nats.js');
          return nc;
        },
        // Waited for from the partition on: a pong late before it is no dead link of this test.
        async (nc) => {
          await nextStatus(nc, Events.Disconnect);
          await nc.close();
        },
        true,
      );
      try {
        await expect(held).resolves.toEqual(['held']);
      } finally {
        await sdk?.close();
      }
    });

    it('keeps resetting its own dead links after a user’s connect', async () => {
      let user: NatsConnection | undefined;
      const held = heldThroughPartition(
        async (proxy) => {
          const nc = await connectNats({ ...quick, servers: proxy.url });
          user = await connect({ servers: server.url });
          // The link dialled after the user's connect is the one declared dead.
          const back = nextStatus(nc, Events.Reconnect);
          proxy.resetConnections();
          await back;
          expect(transportOf(nc)).toBe('sdk');
          return nc;
        },
        // Waited for from the partition on: a pong late before it is no dead link of this test.
        async (nc) => {
          await nextStatus(nc, Events.Disconnect);
          await nc.close();
        },
      );
      try {
        await expect(held).resolves.toEqual([]);
      } finally {
        await user?.close();
      }
    });
  });
});
