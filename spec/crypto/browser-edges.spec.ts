/**
 * The browser's crypto edges (lib/crypto/*.browser.ts) answer as their Node twins do, on the
 * same inputs: they run in Node too (tweetnacl, atob/btoa, WebCrypto's getRandomValues). The
 * SHA-256 edge (@noble/hashes, ESM only) is checked in Chromium on the window id vectors.
 */
import fc from 'fast-check';
import * as nodeBase64 from '../../lib/crypto/base64';
import * as webBase64 from '../../lib/crypto/base64.browser';
import * as nodeBytes from '../../lib/crypto/bytes';
import * as webBytes from '../../lib/crypto/bytes.browser';
import { parseSigningKey } from '../../lib/crypto/keys';
import * as webRandom from '../../lib/crypto/random.browser';
import * as nodeSignature from '../../lib/crypto/signature';
import * as webSignature from '../../lib/crypto/signature.browser';
import vectors from '../fixtures/vectors/signatures.json';

const GROUP_ORDER = (1n << 252n) + 27742317777372353535851937790883648493n;

/** The signature with S replaced by S + L: valid maths, non-canonical encoding. */
function withNonCanonicalS(signature: Uint8Array): Uint8Array {
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]);
  let sPlusL = s + GROUP_ORDER;
  const result = Uint8Array.from(signature);
  for (let i = 32; i < 64; i++) {
    result[i] = Number(sPlusL & 0xffn);
    sPlusL >>= 8n;
  }
  return result;
}

describe('browser crypto edges against their Node twins', () => {
  const key = parseSigningKey(vectors.secret_key_64_b64);
  const payload = new TextEncoder().encode(vectors.cases[0].payload);

  it('sign the vectors byte for byte alike', () => {
    for (const c of vectors.cases) {
      const bytes = new TextEncoder().encode(c.payload);
      expect(webBase64.encodeBase64(webSignature.signBytes(key, bytes))).toBe(c.signature_b64);
    }
  });

  it('give the same verdict on any signature, non-canonical S included', () => {
    const signature = nodeSignature.signBytes(key, payload);
    const nonCanonical = withNonCanonicalS(signature);
    expect(webSignature.verifyBytes(key.publicKey, payload, signature)).toBe(true);
    expect(webSignature.verifyBytes(key.publicKey, payload, nonCanonical)).toBe(false);
    expect(nodeSignature.verifyBytes(key.publicKey, payload, nonCanonical)).toBe(false);
    fc.assert(
      fc.property(fc.nat(63), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, flip, onKey) => {
        const sig = Uint8Array.from(signature);
        const pub = Uint8Array.from(key.publicKey);
        if (onKey) pub[at % 32] ^= flip;
        else sig[at] ^= flip;
        expect(webSignature.verifyBytes(pub, payload, sig)).toBe(
          nodeSignature.verifyBytes(pub, payload, sig),
        );
      }),
    );
  });

  it('refuse bad inputs alike, without throwing', () => {
    const signature = nodeSignature.signBytes(key, payload);
    const inputs: unknown[][] = [
      [key.publicKey.subarray(0, 31), payload, signature],
      [key.publicKey, payload, signature.subarray(0, 63)],
      [vectors.public_key_b64, payload, signature],
      [key.publicKey, vectors.cases[0].payload, signature],
      [new Uint8Array(32).fill(0xff), payload, signature],
      [key.publicKey, payload, undefined],
    ];
    for (const args of inputs) {
      const [a, b, c] = args as [Uint8Array, Uint8Array, Uint8Array];
      expect(webSignature.verifyBytes(a, b, c)).toBe(nodeSignature.verifyBytes(a, b, c));
    }
  });

  it('encode and strictly decode base64 alike', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(webBase64.encodeBase64(bytes)).toBe(nodeBase64.encodeBase64(bytes));
      }),
    );
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'AQIDEJ=+/_- azAZ09'.split('')), maxLength: 12 }),
        fc.nat(9),
        (text, length) => {
          expect(webBase64.decodeStrictBase64(text, length)).toEqual(
            nodeBase64.decodeStrictBase64(text, length),
          );
        },
      ),
    );
  });

  it('tell bytes from look-alikes alike', () => {
    const values: unknown[] = [
      new Uint8Array(2),
      Buffer.from('ab'),
      new Uint8ClampedArray(2),
      new Int8Array(2),
      new DataView(new ArrayBuffer(2)),
      { [Symbol.toStringTag]: 'Uint8Array', length: 2 },
      Object.create(Uint8Array.prototype) as unknown,
      [1, 2],
      'ab',
      null,
    ];
    for (const value of values) {
      expect(webBytes.isUint8Array(value)).toBe(nodeBytes.isUint8Array(value));
    }
  });

  it('make random hex of the asked length', () => {
    expect(webRandom.randomHex(8)).toMatch(/^[0-9a-f]{16}$/);
    expect(webRandom.randomHex(8)).not.toBe(webRandom.randomHex(8));
  });
});
