/**
 * connectNats against a host that accepts TCP but never speaks NATS, and against a real server.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { connect, Events } from 'nats';
import { connectNats } from '../../lib/transport/dial';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';

describe('connectNats', () => {
  let silent: Server;
  let url: string;
  const accepted: Socket[] = [];

  beforeAll(async () => {
    silent = createServer((socket) => {
      accepted.push(socket);
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
  });
});
