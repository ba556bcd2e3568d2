import { connect, ErrorCode, type NatsConnection, type NatsError } from 'nats';
import {
  authorizationConfig,
  startNatsCluster,
  startNatsServer,
  stopAllNatsServers,
  type NatsServerHandle,
} from './nats-server';

const open: NatsConnection[] = [];

async function dial(
  servers: string | string[],
  auth: { token?: string; user?: string; pass?: string } = {},
): Promise<NatsConnection> {
  const nc = await connect({ servers, reconnect: false, timeout: 2000, ...auth });
  open.push(nc);
  return nc;
}

async function dialError(url: string, auth: { token?: string; user?: string; pass?: string }) {
  return dial(url, auth).then(
    () => undefined,
    (error: NatsError) => error,
  );
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((nc) => nc.close()));
});

describe('startNatsServer', () => {
  let server: NatsServerHandle | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('serves clients on its url until killed, then refuses them', async () => {
    server = await startNatsServer();
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
    const nc = await dial(server.url);
    const sub = nc.subscribe('ping', { max: 1 });
    nc.publish('ping', 'hello');
    for await (const msg of sub) expect(msg.string()).toBe('hello');

    await server.kill();
    expect(server.running).toBe(false);
    const error = await dialError(server.url, {});
    expect(error?.code).toBe(ErrorCode.ConnectionRefused);
  });

  it('restarts on the same port with the same JetStream store', async () => {
    server = await startNatsServer({ jetstream: true });
    const port = server.port;
    const before = await dial(server.url);
    const jsm = await before.jetstreamManager();
    await jsm.streams.add({ name: 'KEPT', subjects: ['kept.>'] });
    await before.jetstream().publish('kept.one', 'x');
    await before.close();

    await server.kill();
    await server.restart();

    expect(server.port).toBe(port);
    expect(server.running).toBe(true);
    const after = await dial(server.url);
    const info = await (await after.jetstreamManager()).streams.info('KEPT');
    expect(info.state.messages).toBe(1);
  });

  it('refuses a wrong token and accepts the right one', async () => {
    server = await startNatsServer({ config: authorizationConfig({ token: 'right-token' }) });
    const refused = await dialError(server.url, { token: 'wrong-token' });
    expect(refused?.code).toBe(ErrorCode.AuthorizationViolation);
    await expect(dial(server.url, { token: 'right-token' })).resolves.toBeDefined();
  });

  it('applies user permissions', async () => {
    server = await startNatsServer({
      config: authorizationConfig({
        users: [
          {
            user: 'agent',
            password: 'pw',
            permissions: {
              publish: ['allowed.>'],
              subscribe: { allow: ['>'], deny: ['secret.>'] },
            },
          },
        ],
      }),
    });
    const wrong = await dialError(server.url, { user: 'agent', pass: 'nope' });
    expect(wrong?.code).toBe(ErrorCode.AuthorizationViolation);

    const nc = await dial(server.url, { user: 'agent', pass: 'pw' });
    const denied = nc.subscribe('secret.plans');
    const outcome = (async () => {
      for await (const _ of denied) return 'message';
      return 'ended';
    })();
    await expect(outcome).rejects.toMatchObject({ code: ErrorCode.PermissionsViolation });
  });

  it("fails to start with the server's own log when the config is invalid", async () => {
    const start = startNatsServer({ config: 'authorization { token: ' });
    await expect(start).rejects.toThrow(/port \d+ exited \(code 1.*its log:\n.*Parse error/);
  });

  it('stopAllNatsServers stops every server started', async () => {
    server = await startNatsServer();
    const other = await startNatsServer();
    await stopAllNatsServers();
    expect([server.running, other.running]).toEqual([false, false]);
    expect((await dialError(other.url, {}))?.code).toBe(ErrorCode.ConnectionRefused);
  });
});

describe('startNatsCluster', () => {
  it('routes three JetStream servers that hold a replicated stream', async () => {
    const cluster = await startNatsCluster({ size: 3, jetstream: true });
    try {
      expect(new Set(cluster.urls).size).toBe(3);
      const first = await dial(cluster.urls[0]);
      const jsm = await first.jetstreamManager();
      await jsm.streams.add({ name: 'R3', subjects: ['r3.>'], num_replicas: 3 });
      await first.jetstream().publish('r3.a', 'x');

      const third = await dial(cluster.urls[2]);
      const info = await (await third.jetstreamManager()).streams.info('R3');
      expect(info.state.messages).toBe(1);
      expect(info.cluster?.replicas).toHaveLength(2);
    } finally {
      await cluster.stop();
    }
  });
});
