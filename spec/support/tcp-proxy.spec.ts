import { connect as dialTcp, createServer, type Server, type Socket } from 'node:net';
import { connect, type NatsConnection } from 'nats';
import { startNatsServer, type NatsServerHandle } from './nats-server';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

/** A loopback echo server; `sockets` are its accepted connections. */
async function startEcho(): Promise<{
  server: Server;
  port: number;
  sockets: Set<Socket>;
  received: () => string;
}> {
  const sockets = new Set<Socket>();
  let received = '';
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
    });
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port, sockets, received: () => received };
}

/** A socket to the proxy, collecting what comes back. */
async function dial(
  proxy: TcpProxy,
): Promise<{ socket: Socket; received: () => string; until: (text: string) => Promise<void> }> {
  const socket = dialTcp({ host: '127.0.0.1', port: proxy.port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const waiter of [...waiters]) {
      if (text.includes(waiter.text)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  return {
    socket,
    received: () => text,
    until: (wanted) =>
      text.includes(wanted)
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ text: wanted, resolve })),
  };
}

function closed(socket: Socket): Promise<void> {
  return socket.destroyed
    ? Promise.resolve()
    : new Promise((resolve) => socket.once('close', () => resolve()));
}

describe('startTcpProxy', () => {
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let proxy: TcpProxy;
  const sockets: Socket[] = [];

  beforeEach(async () => {
    echo = await startEcho();
    proxy = await startTcpProxy({ targetPort: echo.port });
  });

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await proxy.close();
    for (const socket of echo.sockets) socket.destroy();
    await new Promise((resolve) => echo.server.close(resolve));
  });

  it('forwards bytes both ways and counts its connections', async () => {
    const link = await dial(proxy);
    sockets.push(link.socket);
    link.socket.write('hello');
    await link.until('hello');
    expect(proxy.connections).toBe(1);
    expect(proxy.accepted).toBe(1);
    link.socket.end();
    await proxy.waitForConnections((count) => count === 0);
  });

  it('holds the bytes written during a partition and delivers them in order on heal', async () => {
    const link = await dial(proxy);
    sockets.push(link.socket);
    link.socket.write('before;');
    await link.until('before;');
    proxy.partition();
    expect(proxy.partitioned).toBe(true);
    for (let i = 0; i < 20; i++) link.socket.write(`held-${i};`);
    // Absence can only be checked over a while: this wait can make the test pass wrongly under
    // load, never fail wrongly.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(link.received()).toBe('before;');
    expect(link.socket.destroyed).toBe(false);
    expect(proxy.connections).toBe(1);
    proxy.heal();
    await link.until('held-19;');
    const expected = ['before;', ...Array.from({ length: 20 }, (_, i) => `held-${i};`)].join('');
    expect(link.received()).toBe(expected);
  });

  it('holds a graceful close made during a partition, and the bytes before it, until heal', async () => {
    const link = await dial(proxy);
    sockets.push(link.socket);
    link.socket.write('x;');
    await link.until('x;');
    const [upstream] = [...echo.sockets];
    proxy.partition();
    // Written, then closed gracefully (FIN): a TCP stack keeps sending both until they get through.
    const endsBefore = proxy.endsSeen;
    link.socket.end('late;');
    await proxy.waitForEnds(endsBefore + 1);
    // Absence over a while: can pass wrongly under load, never fail wrongly.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(upstream.destroyed).toBe(false);
    expect(echo.received()).toBe('x;');
    proxy.heal();
    await closed(upstream);
    expect(echo.received()).toBe('x;late;');
    await proxy.waitForConnections((count) => count === 0);
  });

  it.each([
    ['long after its last write', false],
    ['right behind a write (Linux may report it as an end)', true],
  ])(
    'discards the bytes held from a socket reset %s during the partition, and passes the reset on heal',
    async (_when, rightBehind) => {
      const link = await dial(proxy);
      sockets.push(link.socket);
      link.socket.write('sent;');
      await link.until('sent;');
      const [upstream] = [...echo.sockets];
      proxy.partition();
      const endsBefore = proxy.endsSeen;
      if (rightBehind) {
        link.socket.write('held;', () => link.socket.resetAndDestroy());
      } else {
        await new Promise<void>((resolve) => link.socket.write('held;', () => resolve()));
        // Well after the write (on loopback the reset then always reads as one).
        await new Promise((resolve) => setTimeout(resolve, 100));
        link.socket.resetAndDestroy();
      }
      await closed(link.socket);
      await proxy.waitForEnds(endsBefore + 1);
      proxy.heal();
      await closed(upstream);
      expect(echo.received()).toBe('sent;');
      await proxy.waitForConnections((count) => count === 0);
    },
  );

  it('delays every chunk and keeps their order', async () => {
    proxy.setDelay(0, 20);
    const link = await dial(proxy);
    sockets.push(link.socket);
    const parts = Array.from({ length: 60 }, (_, i) => `c${i};`);
    for (const part of parts) {
      link.socket.write(part);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await link.until('c59;');
    expect(link.received()).toBe(parts.join(''));
    expect(() => proxy.setDelay(10, 5)).toThrow(RangeError);
  });

  it('sends later connections to a new target, and close() destroys every socket', async () => {
    const other = await startEcho();
    try {
      const first = await dial(proxy);
      sockets.push(first.socket);
      proxy.retarget(other.port);
      const second = await dial(proxy);
      sockets.push(second.socket);
      second.socket.write('y');
      await second.until('y');
      expect(other.sockets.size).toBe(1);
      expect(echo.sockets.size).toBe(1);
      await proxy.close();
      await Promise.all([closed(first.socket), closed(second.socket)]);
      expect(proxy.connections).toBe(0);
    } finally {
      for (const socket of other.sockets) socket.destroy();
      await new Promise((resolve) => other.server.close(resolve));
    }
  });

  it('resets connections on demand', async () => {
    const link = await dial(proxy);
    sockets.push(link.socket);
    proxy.resetConnections();
    await closed(link.socket);
    expect(proxy.connections).toBe(0);
  });
});

describe('startTcpProxy in front of a nats-server', () => {
  let server: NatsServerHandle;
  let proxy: TcpProxy;
  let nc: NatsConnection | undefined;

  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(() => server.stop());
  afterEach(async () => {
    await nc?.close();
    nc = undefined;
    await proxy.close();
  });

  it('carries NATS; a partition stalls a round trip that heal then completes', async () => {
    proxy = await startTcpProxy({ targetPort: server.port });
    nc = await connect({ servers: proxy.url, reconnect: false, pingInterval: 60_000 });
    await nc.flush();
    proxy.partition();
    let flushed = false;
    const flush = nc.flush().then(() => {
      flushed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(flushed).toBe(false);
    expect(nc.isClosed()).toBe(false);
    proxy.heal();
    await flush;
    expect(flushed).toBe(true);
  });
});
