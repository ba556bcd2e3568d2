import { createPublicKey } from 'node:crypto';
import fc from 'fast-check';
import nacl from 'tweetnacl';
import { encodeBase64 } from '../../lib/crypto/base64';
import { parseSigningKey, privateKeyObjectFromSeed } from '../../lib/crypto/keys';
import { signBytes, verifyBytes } from '../../lib/crypto/signature';
import vectors from '../fixtures/vectors/signatures.json';

const utf8 = (text: string) => new TextEncoder().encode(text);
const base64 = (text: string) => Uint8Array.from(Buffer.from(text, 'base64'));

const fromSeed = parseSigningKey(Buffer.from(vectors.seed_hex, 'hex'));
const fromSecretKey = parseSigningKey(vectors.secret_key_64_b64);
const publicKey = base64(vectors.public_key_b64);

/** Ed25519's group order L = 2^252 + 27742317777372353535851937790883648493. */
const GROUP_ORDER = (1n << 252n) + 27742317777372353535851937790883648493n;

/** The same signature with S replaced by S + L: valid maths, non-canonical encoding. */
function withNonCanonicalS(signature: Uint8Array): Uint8Array {
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]);
  let sPlusL = s + GROUP_ORDER; // < 2^254: still fits the 32 bytes
  const result = Uint8Array.from(signature);
  for (let i = 32; i < 64; i++) {
    result[i] = Number(sPlusL & 0xffn);
    sPlusL >>= 8n;
  }
  return result;
}

describe('signBytes and verifyBytes: vectors (docs/protocol.md sections 5 and 8)', () => {
  it.each(vectors.cases.map((vector, i) => [i, vector] as const))(
    'case %i: both key forms give the exact signature, and it verifies',
    (_i, vector) => {
      const payload = utf8(vector.payload);
      expect(encodeBase64(signBytes(fromSeed, payload))).toBe(vector.signature_b64);
      expect(encodeBase64(signBytes(fromSecretKey, payload))).toBe(vector.signature_b64);
      expect(verifyBytes(publicKey, payload, base64(vector.signature_b64))).toBe(true);
    },
  );

  it('refuses the tampered payload', () => {
    const { payload, signature_b64, valid } = vectors.tampered;
    expect(verifyBytes(publicKey, utf8(payload), base64(signature_b64))).toBe(valid);
    expect(valid).toBe(false);
  });

  it('signs with a hand-built key that carries no key object', () => {
    const { secretKey, publicKey: handPublicKey, publicKeyBase64 } = fromSecretKey;
    const payload = utf8(vectors.cases[0].payload);
    expect(
      encodeBase64(signBytes({ secretKey, publicKey: handPublicKey, publicKeyBase64 }, payload)),
    ).toBe(vectors.cases[0].signature_b64);
  });
});

describe('verifyBytes', () => {
  const payload = utf8(vectors.cases[0].payload);
  const signature = base64(vectors.cases[0].signature_b64);

  it('refuses a signature by another key', () => {
    const other = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(1));
    expect(verifyBytes(other.publicKey, payload, signature)).toBe(false);
  });

  it.each([
    ['a 31-byte public key', () => [publicKey.subarray(0, 31), payload, signature]],
    ['a 33-byte public key', () => [new Uint8Array(33), payload, signature]],
    ['a 63-byte signature', () => [publicKey, payload, signature.subarray(0, 63)]],
    ['a 65-byte signature', () => [publicKey, payload, new Uint8Array(65)]],
    ['a base64 public key', () => [vectors.public_key_b64, payload, signature]],
    ['a string payload', () => [publicKey, vectors.cases[0].payload, signature]],
    ['an undefined signature', () => [publicKey, payload, undefined]],
    [
      'a public key that is no curve point',
      () => [new Uint8Array(32).fill(0xff), payload, signature],
    ],
  ])('gives false, not an exception, for %s', (_label, args) => {
    const [key, bytes, sig] = args() as [Uint8Array, Uint8Array, Uint8Array];
    expect(verifyBytes(key, bytes, sig)).toBe(false);
  });

  it('accepts Buffers and views inside larger buffers', () => {
    const larger = new Uint8Array(100);
    larger.set(signature, 10);
    expect(verifyBytes(Buffer.from(publicKey), Buffer.from(payload), larger.subarray(10, 74))).toBe(
      true,
    );
  });

  it('refuses a non-canonical signature (S + L) that tweetnacl accepts', () => {
    const nonCanonical = withNonCanonicalS(signature);
    expect(encodeBase64(nonCanonical)).not.toBe(encodeBase64(signature));
    expect(nacl.sign.detached.verify(payload, nonCanonical, publicKey)).toBe(true);
    expect(verifyBytes(publicKey, payload, nonCanonical)).toBe(false);
  });

  it('still verifies every key after the key cache has turned over', () => {
    const keys = Array.from({ length: 1030 }, (_, i) => {
      const seed = new Uint8Array(32);
      new DataView(seed.buffer).setUint32(0, i + 1);
      const privateKey = privateKeyObjectFromSeed(seed);
      const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
      return { privateKey, publicKey: Uint8Array.from(spki.subarray(12)) };
    });
    const signed = keys.map(({ privateKey, publicKey: key }) => ({
      key,
      signature: signBytes(
        {
          secretKey: new Uint8Array(64),
          publicKey: key,
          publicKeyBase64: '',
          privateKeyObject: privateKey,
        },
        payload,
      ),
    }));
    const results = [...signed, ...signed].map(({ key, signature: sig }) =>
      verifyBytes(key, payload, sig),
    );
    expect(results.every(Boolean)).toBe(true);
    // A key's cached object never answers for another key.
    expect(verifyBytes(signed[0].key, payload, signed[1].signature)).toBe(false);
  });
});

describe('node:crypto against tweetnacl', () => {
  const seeds = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const messages = fc.uint8Array({ maxLength: 600 });

  it('gives identical signatures, and each verifies the other', () => {
    fc.assert(
      fc.property(seeds, messages, (seed, message) => {
        const key = parseSigningKey(seed);
        const ours = signBytes(key, message);
        const theirs = nacl.sign.detached(message, key.secretKey);
        expect(encodeBase64(ours)).toBe(encodeBase64(theirs));
        expect(nacl.sign.detached.verify(message, ours, key.publicKey)).toBe(true);
        expect(verifyBytes(key.publicKey, message, theirs)).toBe(true);
      }),
      { numRuns: 20 },
    );
  });

  it('refuses any one flipped bit of signature or message', () => {
    const key = parseSigningKey(fc.sample(seeds, 1)[0]);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 600 }),
        fc.nat(),
        fc.boolean(),
        (message, bit, inSignature) => {
          const signature = signBytes(key, message);
          const target = Uint8Array.from(inSignature ? signature : message);
          const index = bit % (target.length * 8);
          target[index >> 3] ^= 1 << (index & 7);
          const verified = inSignature
            ? verifyBytes(key.publicKey, message, target)
            : verifyBytes(key.publicKey, target, signature);
          expect(verified).toBe(false);
        },
      ),
    );
  });

  it('refuses every non-canonical twin of a valid signature', () => {
    fc.assert(
      fc.property(seeds, messages, (seed, message) => {
        const key = parseSigningKey(seed);
        const nonCanonical = withNonCanonicalS(signBytes(key, message));
        expect(nacl.sign.detached.verify(message, nonCanonical, key.publicKey)).toBe(true);
        expect(verifyBytes(key.publicKey, message, nonCanonical)).toBe(false);
      }),
      { numRuns: 10 },
    );
  });
});
