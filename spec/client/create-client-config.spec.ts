/**
 * createClient's config (issue 16): `clusterId` and `agentId` are required by the type (checked
 * by `tsc` in `npm run lint`: each `@ts-expect-error` fails the lint when the line compiles),
 * and a missing one is named "missing" at run time.
 */
import { createClient, type ClientConfig } from '../../lib/index';
import { ConfigError } from '../../lib/errors';

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('nothing was thrown');
}

describe('createClient config', () => {
  it('requires agentId in the type and says it is missing at run time', () => {
    const error = thrown(() =>
      // @ts-expect-error agentId is required
      createClient({ clusterId: 'chorus-dev' }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ field: 'agentId' });
    expect((error as Error).message).toMatch(/agentId.*missing/);
  });

  it('requires clusterId in the type and says it is missing at run time', () => {
    const error = thrown(() =>
      // @ts-expect-error clusterId is required
      createClient({ agentId: 'a' }),
    );
    expect(error).toMatchObject({ field: 'clusterId' });
    expect((error as Error).message).toMatch(/clusterId.*missing/);
  });

  it('an id set to undefined is missing too; an empty one is invalid, not missing', () => {
    const unset = thrown(() =>
      // @ts-expect-error undefined is not a string
      createClient({ clusterId: undefined, agentId: 'a' }),
    );
    expect((unset as Error).message).toMatch(/missing/);
    const empty = thrown(() => createClient({ clusterId: '', agentId: 'a' }));
    expect((empty as Error).message).toMatch(/NATS token/);
    expect((empty as Error).message).not.toMatch(/missing/);
  });

  it('takes both ids and any other field', async () => {
    const config: ClientConfig = { clusterId: 'chorus-dev', agentId: 'a', beatsPerBar: 8 };
    const client = createClient(config);
    expect(client.clusterId).toBe('chorus-dev');
    await client.stop();
  });
});
