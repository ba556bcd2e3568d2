/**
 * Errors of the right class (issue 14, item 6): a bad argument is a RangeError or TypeError
 * naming the function the caller called; every other error is a BackbeatError subclass with a
 * stable `code`, the underlying error kept as `cause`. Against a real nats-server.
 */
import { connect } from 'nats';
import {
  BackbeatError,
  ClientStateError,
  ConnectionError,
  ErrorCode,
  StatusClaimDroppedError,
} from '../../lib/errors';
import { StatusClaimDroppedError as FromPublisher } from '../../lib/transport/status-publisher';
import {
  authorizationConfig,
  startNatsServer,
  type NatsServerHandle,
} from '../support/nats-server';
import { cleanUp, makeClient } from '../client/client-support';

const CLUSTER = 'errors-it';

describe('error classes', () => {
  let server: NatsServerHandle;
  beforeAll(async () => {
    server = await startNatsServer({
      config: authorizationConfig({
        users: [
          { user: 'all', password: 'all-secret' },
          {
            user: 'blind',
            password: 'blind-secret',
            // May follow the beat but not read anyone's claims.
            permissions: { subscribe: { deny: [`backbeat.${CLUSTER}.status.*`] } },
          },
        ],
      }),
    });
  });
  afterEach(cleanUp);
  afterAll(async () => {
    await server.stop();
  });

  it('StatusClaimDroppedError is a BackbeatError of its own code, not a lifecycle error', () => {
    const error = new StatusClaimDroppedError('buffer-full');
    expect(error).toBeInstanceOf(BackbeatError);
    expect(error).not.toBeInstanceOf(ClientStateError);
    expect(error.code).toBe(ErrorCode.StatusClaimDropped);
    expect(error.name).toBe('StatusClaimDroppedError');
    expect(error.reason).toBe('buffer-full');
    // The publisher throws the very class the package exports.
    expect(FromPublisher).toBe(StatusClaimDroppedError);
  });

  it('start() with a shared connection already closed rejects with ConnectionError, the original as cause', async () => {
    const nc = await connect({ servers: server.url, user: 'all', pass: 'all-secret' });
    await nc.close();
    const client = makeClient({ clusterId: CLUSTER, agentId: 'late', connection: nc });
    const error: unknown = await client.start().then(
      () => null,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).code).toBe(ErrorCode.Connection);
    expect((error as ConnectionError).cause).toBeInstanceOf(Error);
    expect((error as ConnectionError).cause).not.toBeInstanceOf(BackbeatError);
    await expect(client.stop({ timeoutMs: 0 })).resolves.toEqual({ dropped: 0 });
  });

  it('statusClaims$ errors with ConnectionError when the server refuses the subscription', async () => {
    const client = makeClient({
      clusterId: CLUSTER,
      agentId: 'blind',
      natsUrl: server.url,
      natsOptions: { user: 'blind', pass: 'blind-secret' },
    });
    await client.start();
    const error = await new Promise<unknown>((resolve) => {
      client.statusClaims$({ requireSignature: false }).subscribe({
        error: resolve,
        complete: () => resolve(new Error('completed without an error')),
      });
    });
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).message).toMatch(/status/);
    expect((error as ConnectionError).cause).toBeInstanceOf(Error);
    expect((error as ConnectionError).cause).not.toBeInstanceOf(BackbeatError);
  });

  it.each([0, -1, 1.5, Number.NaN])(
    'withBeatBudget(%p, fn) rejects with a RangeError naming withBeatBudget, without calling fn',
    async (beats) => {
      const client = makeClient({ clusterId: CLUSTER, agentId: 'budget', natsUrl: server.url });
      const fn = jest.fn(() => 1);
      const error: unknown = await client.withBeatBudget(beats, fn).then(
        () => null,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(RangeError);
      expect((error as Error).message).toMatch(/^withBeatBudget: /);
      expect(fn).not.toHaveBeenCalled();
    },
  );

  it('withBeatBudget(n, notAFunction) rejects with a TypeError naming withBeatBudget', async () => {
    const client = makeClient({ clusterId: CLUSTER, agentId: 'budget', natsUrl: server.url });
    await expect(client.withBeatBudget(2, 'work' as never)).rejects.toThrow(
      new TypeError('withBeatBudget: fn must be a function'),
    );
  });
});
