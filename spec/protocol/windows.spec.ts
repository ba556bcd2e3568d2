import { createHash } from 'node:crypto';
import windowVectors from '../fixtures/vectors/windows.json';
import { windowIdFor } from '../../lib/protocol/windows';

describe('windowIdFor', () => {
  it.each(windowVectors.cases)(
    'cluster $cluster_id beat $beat_index with $beats_per_bar beats per bar is $window_id',
    ({ cluster_id, beat_index, beats_per_bar, window_id }) => {
      expect(windowIdFor(cluster_id, beat_index, beats_per_bar)).toBe(window_id);
    },
  );

  it('puts beats near 2^53-1 in the bar exact arithmetic gives, for every bar length', () => {
    for (let beatsPerBar = 1; beatsPerBar <= 64; beatsPerBar++) {
      for (let k = 0; k < 70; k++) {
        const beatIndex = Number.MAX_SAFE_INTEGER - k;
        const barIndex = BigInt(beatIndex) / BigInt(beatsPerBar);
        const expected = createHash('sha256').update(`c:${barIndex}`).digest('hex').slice(0, 32);
        expect(windowIdFor('c', beatIndex, beatsPerBar)).toBe(expected);
      }
    }
  });

  it.each([
    [-1, 4],
    [2 ** 53, 4],
    [0.5, 4],
    [0, 0],
    [0, 65],
  ])('refuses beat %p with %p beats per bar', (beatIndex, beatsPerBar) => {
    expect(() => windowIdFor('c', beatIndex, beatsPerBar)).toThrow(RangeError);
  });
});
