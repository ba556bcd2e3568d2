import fc from 'fast-check';
import legacyVectors from '../fixtures/vectors/legacy.json';
import { beatIndexToLegacy, LegacyFrameSchema, legacyToBeatIndex } from '../../lib/protocol/legacy';

const MAX = Number.MAX_SAFE_INTEGER;

describe('legacyToBeatIndex and beatIndexToLegacy', () => {
  describe.each(legacyVectors.cases)(
    'bar $bar beat $beat with $beats_per_bar beats per bar',
    ({ bar, beat, beats_per_bar, beat_index }) => {
      it(`maps to beat index ${beat_index}`, () => {
        expect(legacyToBeatIndex(bar, beat, beats_per_bar)).toBe(beat_index);
      });
      it('maps back', () => {
        expect(beatIndexToLegacy(beat_index, beats_per_bar)).toEqual({ bar, beat });
      });
    },
  );

  it('defaults to 4 beats per bar', () => {
    expect(legacyToBeatIndex(2, 1)).toBe(4);
    expect(beatIndexToLegacy(7)).toEqual({ bar: 2, beat: 4 });
  });

  it('reaches 2^53-1 exactly and refuses one beat more', () => {
    // 2^53-1 = 64 * 140737488355327 + 63
    expect(legacyToBeatIndex(140737488355328, 64, 64)).toBe(MAX);
    expect(beatIndexToLegacy(MAX, 64)).toEqual({ bar: 140737488355328, beat: 64 });
    expect(() => legacyToBeatIndex(140737488355329, 1, 64)).toThrow(RangeError);
    expect(legacyToBeatIndex(MAX, 1, 1)).toBe(MAX - 1);
    expect(() => legacyToBeatIndex(MAX, 1, 4)).toThrow(RangeError);
    // (2^53-1) * 2 rounds to 2^54 exactly: the overflow must still be seen.
    expect(() => legacyToBeatIndex(MAX, 2, 2)).toThrow(RangeError);
  });

  it('is exact both ways for every index near 2^53-1 and every bar length', () => {
    for (let beatsPerBar = 1; beatsPerBar <= 64; beatsPerBar++) {
      for (let k = 0; k < 70; k++) {
        const beatIndex = MAX - k;
        const { bar, beat } = beatIndexToLegacy(beatIndex, beatsPerBar);
        const big = BigInt(beatIndex);
        const p = BigInt(beatsPerBar);
        expect([BigInt(bar), BigInt(beat)]).toEqual([big / p + 1n, (big % p) + 1n]);
        expect(legacyToBeatIndex(bar, beat, beatsPerBar)).toBe(beatIndex);
      }
    }
  });

  it('round-trips any index and bar length (property)', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.integer({ min: 1, max: 64 }), (beatIndex, beatsPerBar) => {
        const { bar, beat } = beatIndexToLegacy(beatIndex, beatsPerBar);
        expect(beat).toBeGreaterThanOrEqual(1);
        expect(beat).toBeLessThanOrEqual(beatsPerBar);
        expect(legacyToBeatIndex(bar, beat, beatsPerBar)).toBe(beatIndex);
      }),
    );
  });

  it('agrees with exact (BigInt) arithmetic or throws exactly when the index is beyond 2^53-1', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: MAX }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 64 }),
        (bar, beatsPerBar, beatSeed) => {
          const beat = ((beatSeed - 1) % beatsPerBar) + 1;
          const exact = (BigInt(bar) - 1n) * BigInt(beatsPerBar) + BigInt(beat - 1);
          if (exact > BigInt(MAX)) {
            expect(() => legacyToBeatIndex(bar, beat, beatsPerBar)).toThrow(RangeError);
          } else {
            expect(BigInt(legacyToBeatIndex(bar, beat, beatsPerBar))).toBe(exact);
          }
        },
      ),
    );
  });

  it.each([
    ['bar 0', 0, 1, 4],
    ['bar -1', -1, 1, 4],
    ['fractional bar', 1.5, 1, 4],
    ['bar beyond 2^53', 2 ** 53 + 2, 1, 1],
    ['NaN bar', NaN, 1, 4],
    ['beat 0', 1, 0, 4],
    ['beat beyond the bar', 1, 5, 4],
    ['fractional beat', 1, 1.5, 4],
    ['0 beats per bar', 1, 1, 0],
    ['65 beats per bar', 1, 1, 65],
    ['fractional beats per bar', 1, 1, 2.5],
  ])('legacyToBeatIndex refuses %s with a RangeError', (_why, bar, beat, beatsPerBar) => {
    expect(() => legacyToBeatIndex(bar, beat, beatsPerBar)).toThrow(RangeError);
  });

  it.each([
    ['a negative index', -1, 4],
    ['a fractional index', 1.5, 4],
    ['an index beyond 2^53-1', 2 ** 53, 4],
    ['Infinity', Infinity, 4],
    ['0 beats per bar', 0, 0],
    ['65 beats per bar', 0, 65],
  ])('beatIndexToLegacy refuses %s with a RangeError', (_why, beatIndex, beatsPerBar) => {
    expect(() => beatIndexToLegacy(beatIndex, beatsPerBar)).toThrow(RangeError);
  });
});

describe('LegacyFrameSchema', () => {
  it('accepts a bare frame and strips unknown fields', () => {
    expect(LegacyFrameSchema.parse({ bar: 3, beat: 1, extra: true })).toEqual({ bar: 3, beat: 1 });
  });

  it('accepts every optional field', () => {
    const frame = { bar: 2, beat: 64, beats_per_bar: 64, tempo_bpm: 6000, cluster_id: 'c-1' };
    expect(LegacyFrameSchema.parse(frame)).toEqual(frame);
  });

  it.each([
    ['bar 0', { bar: 0, beat: 1 }, 'bar'],
    ['fractional bar', { bar: 1.5, beat: 1 }, 'bar'],
    ['bar as string', { bar: '1', beat: 1 }, 'bar'],
    ['beat 0', { bar: 1, beat: 0 }, 'beat'],
    ['beat beyond the beats_per_bar it carries', { bar: 1, beat: 4, beats_per_bar: 3 }, 'beat'],
    ['beat beyond 64', { bar: 1, beat: 65 }, 'beat'],
    ['beats_per_bar 65', { bar: 1, beat: 1, beats_per_bar: 65 }, 'beats_per_bar'],
    ['tempo 0', { bar: 1, beat: 1, tempo_bpm: 0 }, 'tempo_bpm'],
    ['tempo 6001', { bar: 1, beat: 1, tempo_bpm: 6001 }, 'tempo_bpm'],
    ['cluster not a token', { bar: 1, beat: 1, cluster_id: 'a.b' }, 'cluster_id'],
  ])('refuses %s, naming the field', (_why, frame, field) => {
    const result = LegacyFrameSchema.safeParse(frame);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path[0])).toContain(field);
  });
});
