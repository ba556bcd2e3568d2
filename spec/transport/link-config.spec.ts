/**
 * The config fields of the link's dead-link detection (`pingIntervalMs`, `maxPingsOut`) and the
 * nats.js options the SDK owns because of them.
 */
import { resolveConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';

const base = { clusterId: 'c', agentId: 'a' };

function fieldOf(partial: Record<string, unknown>): string | undefined {
  try {
    resolveConfig({ ...base, ...partial });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError & { field?: string }).field ?? (error as Error).message;
  }
  return undefined;
}

describe('dead-link config', () => {
  it('defaults to a silent link declared dead within 10 s', () => {
    const { pingIntervalMs, maxPingsOut } = resolveConfig(base);
    expect((maxPingsOut + 1) * pingIntervalMs).toBeLessThanOrEqual(10_000);
  });

  it.each([
    ['pingIntervalMs', 0],
    ['pingIntervalMs', -1],
    ['pingIntervalMs', Number.NaN],
    ['maxPingsOut', 0],
    ['maxPingsOut', 1.5],
  ])('refuses %s = %p', (field, value) => {
    expect(fieldOf({ [field]: value })).toMatch(field);
  });

  it.each(['pingInterval', 'maxPingOut', 'ignoreAuthErrorAbort'])(
    'refuses natsOptions.%s: the SDK sets it',
    (option) => {
      expect(fieldOf({ natsOptions: { [option]: 1 } })).toMatch(`natsOptions.${option}`);
    },
  );
});
