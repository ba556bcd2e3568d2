import nacl from 'tweetnacl';
import { ConfigError } from '../../lib/errors';
import { encodeBase64 } from '../../lib/crypto/base64';
import {
  generateSigningKey,
  parsePublicKey,
  parseSigningKey,
  type SigningKey,
} from '../../lib/crypto/keys';
import vectors from '../fixtures/vectors/signatures.json';

const seed = Uint8Array.from(Buffer.from(vectors.seed_hex, 'hex'));
const secretKey = Uint8Array.from(Buffer.from(vectors.secret_key_64_b64, 'base64'));

/** The error `run` throws. */
function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

function expectSigningKeyOfVectors(key: SigningKey): void {
  expect(key.publicKeyBase64).toBe(vectors.public_key_b64);
  expect(encodeBase64(key.publicKey)).toBe(vectors.public_key_b64);
  expect(encodeBase64(key.secretKey)).toBe(vectors.secret_key_64_b64);
  expect(key.privateKeyObject?.asymmetricKeyType).toBe('ed25519');
  expect(key.privateKeyObject?.type).toBe('private');
}

describe('parseSigningKey', () => {
  it.each([
    ['a 64-byte secret key', () => secretKey],
    ['a 32-byte seed', () => seed],
    ['a 64-byte secret key in base64', () => vectors.secret_key_64_b64],
    ['a 32-byte seed in base64', () => encodeBase64(seed)],
    ['a Buffer', () => Buffer.from(secretKey)],
  ])('accepts %s', (_label, key) => {
    expectSigningKeyOfVectors(parseSigningKey(key()));
  });

  it('accepts a secret key viewed inside a larger buffer', () => {
    const larger = new Uint8Array(80);
    larger.set(secretKey, 8);
    expectSigningKeyOfVectors(parseSigningKey(larger.subarray(8, 72)));
  });

  it('refuses a 64-byte key whose halves disagree', () => {
    const error = thrown(() => parseSigningKey(vectors.mismatched_secret_key_64_b64));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('signingKey');
    expect((error as ConfigError).message).toMatch(/public key/);
    const bytes = Uint8Array.from(secretKey);
    bytes[63] ^= 1;
    expect(() => parseSigningKey(bytes)).toThrow(ConfigError);
  });

  it.each([
    ['0 bytes', () => new Uint8Array(0)],
    ['31 bytes', () => seed.subarray(0, 31)],
    ['33 bytes', () => new Uint8Array(33)],
    ['63 bytes', () => secretKey.subarray(0, 63)],
    ['65 bytes', () => new Uint8Array(65)],
    ['hex text', () => vectors.seed_hex],
    ['unpadded base64', () => vectors.secret_key_64_b64.replace(/=+$/, '')],
    ['URL-alphabet base64', () => encodeBase64(seed).replace(/\+/g, '-').replace(/\//g, '_')],
    ['base64 with a trailing newline', () => `${vectors.secret_key_64_b64}\n`],
    ['base64 of 48 bytes', () => encodeBase64(new Uint8Array(48))],
    ['a number array', () => Array.from(seed)],
    ['undefined', () => undefined],
  ])('refuses %s with a ConfigError naming signingKey', (_label, key) => {
    const error = thrown(() => parseSigningKey(key() as Uint8Array));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('signingKey');
    expect((error as ConfigError).code).toBe('BACKBEAT_CONFIG');
  });

  it('keeps its own copy of the key', () => {
    const bytes = Uint8Array.from(secretKey);
    const key = parseSigningKey(bytes);
    bytes.fill(0);
    expect(encodeBase64(key.secretKey)).toBe(vectors.secret_key_64_b64);
  });
});

describe('parsePublicKey', () => {
  const publicKey = Uint8Array.from(Buffer.from(vectors.public_key_b64, 'base64'));

  it('accepts 32 bytes or their base64', () => {
    expect(encodeBase64(parsePublicKey(publicKey, 'trustedPulseKeys.0'))).toBe(
      vectors.public_key_b64,
    );
    expect(encodeBase64(parsePublicKey(vectors.public_key_b64, 'trustedPulseKeys.0'))).toBe(
      vectors.public_key_b64,
    );
  });

  it('returns a copy', () => {
    const bytes = Uint8Array.from(publicKey);
    const parsed = parsePublicKey(bytes, 'key');
    bytes.fill(0);
    expect(encodeBase64(parsed)).toBe(vectors.public_key_b64);
  });

  it.each([
    ['31 bytes', () => publicKey.subarray(0, 31)],
    ['64 bytes', () => secretKey],
    ['unpadded base64', () => vectors.public_key_b64.slice(0, -1)],
    ['base64 of 64 bytes', () => vectors.secret_key_64_b64],
    ['a number', () => 7],
  ])('refuses %s with a ConfigError naming the field', (_label, key) => {
    const error = thrown(() => parsePublicKey(key() as Uint8Array, 'trustedKeys.my-service.1'));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('trustedKeys.my-service.1');
  });
});

describe('generateSigningKey', () => {
  it('makes a 64-byte secret key whose second half is the public key of its seed', () => {
    const { secretKey: generated, publicKey } = generateSigningKey();
    expect(generated).toHaveLength(64);
    expect(publicKey).toHaveLength(32);
    const derived = nacl.sign.keyPair.fromSeed(generated.slice(0, 32));
    expect(encodeBase64(generated.subarray(32))).toBe(encodeBase64(derived.publicKey));
    expect(encodeBase64(publicKey)).toBe(encodeBase64(derived.publicKey));
    expect(parseSigningKey(generated).publicKeyBase64).toBe(encodeBase64(publicKey));
  });

  it('makes a different key each time', () => {
    const keys = new Set(
      Array.from({ length: 8 }, () => encodeBase64(generateSigningKey().secretKey)),
    );
    expect(keys.size).toBe(8);
  });
});
