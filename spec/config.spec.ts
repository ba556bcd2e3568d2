import { defaultConfig, resolveConfig, type Config } from '../lib/config';
import { silentLogger } from '../lib/observability/logger';
import { encodeBase64 } from '../lib/crypto/base64';
import { generateSigningKey } from '../lib/crypto/keys';
import { ConfigError } from '../lib/errors';

const required = { clusterId: 'chorus-dev', agentId: 'my-service' };

/** The ConfigError `resolveConfig` throws for `partial`, or a failure when it throws none. */
function configError(partial: Record<string, unknown>): ConfigError {
  try {
    resolveConfig({ ...required, ...partial });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`no ConfigError for ${JSON.stringify(partial)}`);
}

describe('defaultConfig', () => {
  it('equals the defaults table of the README', () => {
    // README.md, Configuration: field | default
    expect(defaultConfig()).toEqual({
      clusterId: '',
      agentId: '',
      natsUrl: 'nats://localhost:4222',
      jitterToleranceMs: 100,
      connectTimeoutMs: 2000,
      reconnectDelayMs: 2000,
      maxReconnectDelayMs: 30000,
      maxReconnects: -1,
      pingIntervalMs: 3000,
      maxPingsOut: 2,
      beatsPerBar: 4,
      fallbackTempoBpm: 60,
      maxClockSkewMs: 60000,
      acceptLegacyFrames: false,
      statusBufferSize: 1024,
      statusDelivery: 'core',
      logger: silentLogger,
      natsOptions: {},
    });
    const config = defaultConfig();
    for (const none of ['connection', 'signingKey', 'trustedPulseKeys']) {
      expect(config).not.toHaveProperty(none);
    }
  });

  it('returns a new object each time', () => {
    const first = defaultConfig();
    first.natsOptions.name = 'changed';
    expect(defaultConfig().natsOptions).toEqual({});
  });

  it('has a silent logger that writes nothing and whose child is silent too', () => {
    const write = jest.spyOn(process.stdout, 'write');
    const logger = defaultConfig().logger;
    logger.info('hello');
    logger.child?.({ a: 1 }).error({ err: 1 }, 'boom');
    expect(write).not.toHaveBeenCalled();
    write.mockRestore();
  });
});

describe('resolveConfig', () => {
  it('merges over the defaults and lists the URLs', () => {
    const config = resolveConfig({ ...required, natsUrl: 'nats://a:4222', jitterToleranceMs: 0 });
    expect(config).toMatchObject({
      ...required,
      natsUrl: ['nats://a:4222'],
      jitterToleranceMs: 0,
      connectTimeoutMs: 2000,
      statusDelivery: 'core',
    });
    expect(config.signingKey).toBeUndefined();
    expect(config.trustedPulseKeys).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
    expect(resolveConfig({ ...required, natsUrl: ['nats://a', 'nats://b'] }).natsUrl).toEqual([
      'nats://a',
      'nats://b',
    ]);
  });

  it('keeps a default for a field set to undefined', () => {
    expect(resolveConfig({ ...required, beatsPerBar: undefined }).beatsPerBar).toBe(4);
  });

  it('parses a signing key (64 bytes, 32-byte seed, or base64) and trusted pulse keys', () => {
    const { secretKey, publicKey } = generateSigningKey();
    for (const signingKey of [secretKey, secretKey.slice(0, 32), encodeBase64(secretKey)]) {
      const config = resolveConfig({ ...required, signingKey });
      expect(config.signingKey?.publicKey).toEqual(publicKey);
    }
    const config = resolveConfig({
      ...required,
      trustedPulseKeys: [publicKey, encodeBase64(publicKey)],
    });
    expect(config.trustedPulseKeys).toEqual([publicKey, publicKey]);
  });

  it('passes other natsOptions and a pino-like logger through', () => {
    const logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
    const config = resolveConfig({
      ...required,
      natsOptions: { name: 'svc', user: 'u', pass: 'p' },
      logger,
    });
    expect(config.natsOptions).toEqual({ name: 'svc', user: 'u', pass: 'p' });
    expect(config.logger).toBe(logger);
    expect(resolveConfig({ ...required, logger: console }).logger).toBe(console);
  });

  it('accepts the edges of each range', () => {
    expect(() =>
      resolveConfig({
        ...required,
        beatsPerBar: 64,
        fallbackTempoBpm: 6000,
        maxReconnects: -1,
        statusBufferSize: 1,
        statusDelivery: 'jetstream',
        maxClockSkewMs: 0,
        reconnectDelayMs: 1,
        maxReconnectDelayMs: 1,
        connectTimeoutMs: 2 ** 31 - 1,
        jitterToleranceMs: 0,
        acceptLegacyFrames: true,
      }),
    ).not.toThrow();
    expect(() => resolveConfig({ ...required, maxReconnects: 1 })).not.toThrow();
    expect(() => resolveConfig({ ...required, beatsPerBar: 1, fallbackTempoBpm: 1 })).not.toThrow();
  });

  const { secretKey: otherSecret } = generateSigningKey();
  const { secretKey } = generateSigningKey();
  const mismatched = new Uint8Array(64);
  mismatched.set(secretKey.subarray(0, 32));
  mismatched.set(otherSecret.subarray(32), 32);

  it.each<[string, Record<string, unknown>, string]>([
    ['a missing clusterId', { clusterId: undefined }, 'clusterId'],
    ['a clusterId that is not a token', { clusterId: 'chorus.dev' }, 'clusterId'],
    ['an agentId too long', { agentId: 'a'.repeat(129) }, 'agentId'],
    ['an empty agentId', { agentId: '' }, 'agentId'],
    ['an empty natsUrl', { natsUrl: '' }, 'natsUrl'],
    ['an empty natsUrl list', { natsUrl: [] }, 'natsUrl'],
    ['a natsUrl list with an empty URL', { natsUrl: ['nats://a', ''] }, 'natsUrl'],
    ['a connection that is not one', { connection: {} }, 'connection'],
    ['a signing key of 16 bytes', { signingKey: new Uint8Array(16) }, 'signingKey'],
    ['a signing key whose halves disagree', { signingKey: mismatched }, 'signingKey'],
    [
      'a signing key in loose base64',
      { signingKey: encodeBase64(secretKey).replace(/=+$/, '') },
      'signingKey',
    ],
    ['a signing key that is a number', { signingKey: 42 }, 'signingKey'],
    ['trusted pulse keys not a list', { trustedPulseKeys: 'key' }, 'trustedPulseKeys'],
    ['an empty trusted pulse key list', { trustedPulseKeys: [] }, 'trustedPulseKeys'],
    [
      'a trusted pulse key of 31 bytes',
      { trustedPulseKeys: [generateSigningKey().publicKey, new Uint8Array(31)] },
      'trustedPulseKeys.1',
    ],
    ['a trusted pulse key not base64', { trustedPulseKeys: ['not base64!'] }, 'trustedPulseKeys.0'],
    ['a negative jitterToleranceMs', { jitterToleranceMs: -1 }, 'jitterToleranceMs'],
    ['a zero connectTimeoutMs', { connectTimeoutMs: 0 }, 'connectTimeoutMs'],
    ['an infinite reconnectDelayMs', { reconnectDelayMs: Infinity }, 'reconnectDelayMs'],
    ['a NaN maxReconnectDelayMs', { maxReconnectDelayMs: NaN }, 'maxReconnectDelayMs'],
    ['a string maxClockSkewMs', { maxClockSkewMs: '60000' }, 'maxClockSkewMs'],
    ['maxReconnects -2', { maxReconnects: -2 }, 'maxReconnects'],
    ['maxReconnects 0 (no dial at all)', { maxReconnects: 0 }, 'maxReconnects'],
    ['a fractional maxReconnects', { maxReconnects: 1.5 }, 'maxReconnects'],
    ['beatsPerBar 0', { beatsPerBar: 0 }, 'beatsPerBar'],
    ['beatsPerBar 65', { beatsPerBar: 65 }, 'beatsPerBar'],
    ['a fractional beatsPerBar', { beatsPerBar: 3.5 }, 'beatsPerBar'],
    ['a fallbackTempoBpm below 1', { fallbackTempoBpm: 0.5 }, 'fallbackTempoBpm'],
    ['a fallbackTempoBpm above 6000', { fallbackTempoBpm: 6001 }, 'fallbackTempoBpm'],
    [
      'an acceptLegacyFrames that is not a boolean',
      { acceptLegacyFrames: 'yes' },
      'acceptLegacyFrames',
    ],
    ['statusBufferSize 0', { statusBufferSize: 0 }, 'statusBufferSize'],
    ['a fractional statusBufferSize', { statusBufferSize: 10.5 }, 'statusBufferSize'],
    ['an unknown statusDelivery', { statusDelivery: 'kafka' }, 'statusDelivery'],
    ['a logger without warn', { logger: { debug() {}, info() {}, error() {} } }, 'logger'],
    ['a logger whose child is not a method', { logger: { ...console, child: 1 } }, 'logger'],
    ['natsOptions that are not an object', { natsOptions: 'tls' }, 'natsOptions'],
    ['an unknown field', { natsUrls: ['nats://a'] }, 'natsUrls'],
    ['natsOptions.servers', { natsOptions: { servers: ['nats://a'] } }, 'natsOptions.servers'],
    ['natsOptions.port', { natsOptions: { port: 4222 } }, 'natsOptions.port'],
    ['natsOptions.reconnect', { natsOptions: { reconnect: false } }, 'natsOptions.reconnect'],
    [
      'natsOptions.maxReconnectAttempts',
      { natsOptions: { maxReconnectAttempts: 3 } },
      'natsOptions.maxReconnectAttempts',
    ],
    [
      'natsOptions.reconnectTimeWait',
      { natsOptions: { reconnectTimeWait: 1 } },
      'natsOptions.reconnectTimeWait',
    ],
    [
      'natsOptions.reconnectDelayHandler',
      { natsOptions: { reconnectDelayHandler: () => 1 } },
      'natsOptions.reconnectDelayHandler',
    ],
    [
      'natsOptions.waitOnFirstConnect',
      { natsOptions: { waitOnFirstConnect: true } },
      'natsOptions.waitOnFirstConnect',
    ],
    ['natsOptions.timeout', { natsOptions: { timeout: 100 } }, 'natsOptions.timeout'],
  ])('refuses %s with a ConfigError naming it', (_why, partial, field) => {
    const error = configError(partial);
    expect(error.field).toBe(field);
    expect(error.code).toBe('BACKBEAT_CONFIG');
    expect(error.message).toMatch(new RegExp(`^${field.replace('.', '\\.')}: `));
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    [
      'reconnectDelayMs 0 (a busy dial loop)',
      { reconnectDelayMs: 0 },
      'reconnectDelayMs',
      /more than 0 to 2147483647/,
    ],
    ['a negative reconnectDelayMs', { reconnectDelayMs: -5 }, 'reconnectDelayMs', /more than 0/],
    ['maxReconnectDelayMs 0', { maxReconnectDelayMs: 0 }, 'maxReconnectDelayMs', /more than 0/],
    [
      'maxReconnectDelayMs below reconnectDelayMs',
      { reconnectDelayMs: 500, maxReconnectDelayMs: 499 },
      'maxReconnectDelayMs',
      /at least reconnectDelayMs \(500\)/,
    ],
    [
      'maxReconnectDelayMs below the default reconnectDelayMs',
      { maxReconnectDelayMs: 200 },
      'maxReconnectDelayMs',
      /at least reconnectDelayMs \(2000\)/,
    ],
    [
      'maxReconnects 0',
      { maxReconnects: 0 },
      'maxReconnects',
      /-1 \(forever\) or an integer from 1/,
    ],
    [
      'a reconnectDelayMs past what a timer holds (it would fire at once)',
      { reconnectDelayMs: 2 ** 31, maxReconnectDelayMs: 2 ** 32 },
      'reconnectDelayMs',
      /to 2147483647/,
    ],
    [
      'a connectTimeoutMs past what a timer holds',
      { connectTimeoutMs: 2 ** 31 },
      'connectTimeoutMs',
      /to 2147483647/,
    ],
    [
      'a jitterToleranceMs past what a timer holds',
      { jitterToleranceMs: 2 ** 31 },
      'jitterToleranceMs',
      /from 0 to 2147483647/,
    ],
  ])('refuses %s, naming the field and the valid range', (_why, partial, field, range) => {
    const error = configError(partial);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(range);
  });

  it('names a misspelt field rather than the field it leaves missing', () => {
    const error = configError({ clusterId: undefined, clusterID: 'chorus-dev', beatsPerBar: 0 });
    expect(error.field).toBe('clusterID');
    expect(error.message).toBe('clusterID: is not a configuration field');
  });

  it('says a required field is missing, and that an empty one is not a token', () => {
    expect(configError({ agentId: undefined }).message).toBe(
      'agentId: is missing: it is required (clusterId and agentId)',
    );
    expect(configError({ agentId: '' }).message).toBe(
      'agentId: must be a NATS token: 1 to 128 of A-Z a-z 0-9 _ -',
    );
  });

  it('refuses a configuration that is not an object', () => {
    expect(() => resolveConfig(null as unknown as Partial<Config>)).toThrow(ConfigError);
  });

  it('refuses the defaults alone: clusterId and agentId are required', () => {
    expect(() => resolveConfig({})).toThrow(expect.objectContaining({ field: 'clusterId' }));
    expect(() => resolveConfig({ clusterId: 'c' })).toThrow(
      expect.objectContaining({ field: 'agentId' }),
    );
  });
});
