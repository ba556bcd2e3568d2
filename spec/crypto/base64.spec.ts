import fc from 'fast-check';
import { decodeStrictBase64, encodeBase64 } from '../../lib/crypto/base64';

describe('encodeBase64', () => {
  it('encodes with the standard alphabet and padding', () => {
    expect(encodeBase64(new Uint8Array([]))).toBe('');
    expect(encodeBase64(new Uint8Array([0xfb, 0xff]))).toBe('+/8=');
    expect(encodeBase64(new Uint8Array([1]))).toBe('AQ==');
    expect(encodeBase64(new Uint8Array([1, 2, 3]))).toBe('AQID');
  });

  it('encodes only the view, not the whole underlying buffer', () => {
    const whole = new Uint8Array([9, 9, 1, 2, 3, 9]);
    expect(encodeBase64(whole.subarray(2, 5))).toBe('AQID');
  });

  it('agrees with Buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(encodeBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
      }),
    );
  });
});

describe('decodeStrictBase64', () => {
  it('decodes the canonical text of exactly the expected bytes', () => {
    expect(Array.from(decodeStrictBase64('AQID', 3)!)).toEqual([1, 2, 3]);
    expect(Array.from(decodeStrictBase64('AQI=', 2)!)).toEqual([1, 2]);
    expect(Array.from(decodeStrictBase64('+/8=', 2)!)).toEqual([0xfb, 0xff]);
    expect(Array.from(decodeStrictBase64('', 0)!)).toEqual([]);
  });

  it.each([
    ['non-zero padding bits (one pad)', 'AQJ=', 2],
    ['non-zero padding bits (two pads)', 'AR==', 1],
    ['missing padding', 'AQI', 2],
    ['missing padding, length made up', 'AQIDAQ', 4],
    ['the URL alphabet', '-_8=', 2],
    ['a leading space', ' AQID', 3],
    ['a trailing newline', 'AQID\n', 3],
    ['inner whitespace', 'AQ ID', 3],
    ['a line break in a long text', 'AQIDAQID\r\nAQID', 9],
    ['padding in the middle', 'AQ==AQID', 4],
    ['three pads', 'A===', 1],
    ['a pad where a byte is due', 'AQI=', 3],
    ['too many bytes', 'AQID', 2],
    ['too few bytes', 'AQ==', 2],
    ['an empty text for bytes', '', 1],
    ['a non-base64 character', 'AQ*D', 3],
    ['a non-ASCII character', 'AQIé', 3],
  ])('refuses %s', (_label, text, byteLength) => {
    expect(decodeStrictBase64(text, byteLength)).toBeNull();
  });

  it.each([
    ['a non-string', 1234, 3],
    ['a negative length', '', -1],
    ['a NaN length', 'AQID', Number.NaN],
  ])('refuses %s without throwing', (_label, text, byteLength) => {
    expect(decodeStrictBase64(text as string, byteLength)).toBeNull();
  });

  it('round-trips every byte string, and only at its own length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const text = encodeBase64(bytes);
        expect(Array.from(decodeStrictBase64(text, bytes.length)!)).toEqual(Array.from(bytes));
        expect(decodeStrictBase64(text, bytes.length + 1)).toBeNull();
        if (bytes.length > 0) expect(decodeStrictBase64(text, bytes.length - 1)).toBeNull();
      }),
    );
  });

  it('accepts only texts that re-encode to themselves', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'AQgw/+=_- \nA'.split('')), maxLength: 12 }),
        fc.integer({ min: 0, max: 9 }),
        (text, byteLength) => {
          const bytes = decodeStrictBase64(text, byteLength);
          if (bytes !== null) {
            expect(bytes.length).toBe(byteLength);
            expect(encodeBase64(bytes)).toBe(text);
          }
        },
      ),
    );
  });
});
