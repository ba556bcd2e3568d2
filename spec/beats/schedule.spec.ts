import fc from 'fast-check';
import { latestSlotAt, periodMs, slotDueMs } from '../../lib/beats/schedule';

describe('the absolute schedule', () => {
  it('maps a slot’s own due time back to that slot, and a moment before it to the one before', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e9, noNaN: true }),
        fc.integer({ min: 1, max: 6000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        (anchorMs, tempoBpm, slot) => {
          const period = periodMs(tempoBpm);
          const due = slotDueMs(anchorMs, period, slot);
          expect(latestSlotAt(anchorMs, period, due)).toBe(slot);
          expect(latestSlotAt(anchorMs, period, due - 0.001)).toBe(slot - 1);
        },
      ),
      // Found by a run: the division rounds above 1e-6 ms at this magnitude.
      { examples: [[0, 11, 6_994_454]], numRuns: 1000 },
    );
  });

  it('computes due times from the anchor, never by adding periods up', () => {
    const period = periodMs(7); // 8571.428571… ms: not exact in binary
    let added = 0;
    for (let slot = 1; slot <= 1_000_000; slot++) added += period;
    expect(slotDueMs(0, period, 1_000_000)).toBe(1_000_000 * period);
    expect(Math.abs(added - 1_000_000 * period)).toBeGreaterThan(0);
  });
});
