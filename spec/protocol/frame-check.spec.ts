import fc from 'fast-check';
import { BeatFrameSchema } from '../../lib/protocol/beat-frame';
import { fastParseBeatFrame, parseBeatFrame } from '../../lib/protocol/frame-check';
import { FIELDS, frameObject, validFields } from './frame-arbitraries';

describe('fastParseBeatFrame', () => {
  it('never accepts what BeatFrameSchema rejects, and returns exactly what it returns', () => {
    let fast = 0;
    fc.assert(
      fc.property(frameObject, (object) => {
        const result = fastParseBeatFrame(object);
        const schema = BeatFrameSchema.safeParse(object);
        if (result === undefined) return;
        fast++;
        expect(schema.success).toBe(true);
        expect(result).toStrictEqual(schema.data);
        expect(Object.keys(result)).toEqual(Object.keys(schema.data!));
        expect(Object.is(result.beat_index, schema.data!.beat_index)).toBe(true);
      }),
      { numRuns: 3000 },
    );
    // The comparison above proves nothing if the fast path never answers.
    expect(fast).toBeGreaterThan(300);
  });

  it('answers for every frame as a pulse writes it (JSON round trip)', () => {
    const written = fc.record(
      { ...validFields, phase: fc.stringMatching(/^[a-z]{1,32}$/) },
      { requiredKeys: FIELDS.filter((f) => f !== 'beats_per_bar') },
    );
    fc.assert(
      fc.property(written, (frame) => {
        const parsed = JSON.parse(JSON.stringify(frame));
        const result = fastParseBeatFrame(parsed);
        expect(result).toStrictEqual(BeatFrameSchema.parse(parsed));
      }),
    );
  });

  it.each([
    ['an array', []],
    ['null', null],
    ['a string', 'frame'],
    ['a phase of 32 code points but 64 UTF-16 units', { phase: '😀'.repeat(32) }],
  ])('leaves %s to the schema', (_why, value) => {
    const object =
      value !== null && typeof value === 'object' && !Array.isArray(value)
        ? {
            type: 'backbeat.beatframe.v1',
            cluster_id: 'c',
            pulse_id: 'p',
            beat_index: 0,
            downbeat: true,
            hlc: '018bcfe56800:0000:p',
            deadline_at: '2023-11-14T22:13:20.500Z',
            tempo_bpm: 60,
            window_id: 'w',
            ...value,
          }
        : value;
    expect(fastParseBeatFrame(object)).toBeUndefined();
  });
});

describe('parseBeatFrame', () => {
  it('gives the schema verdict for frames the fast path leaves to it', () => {
    const emojiPhase = {
      type: 'backbeat.beatframe.v1',
      cluster_id: 'c',
      pulse_id: 'p',
      beat_index: 0,
      downbeat: true,
      phase: '😀'.repeat(32),
      hlc: '018bcfe56800:0000:p',
      deadline_at: '2023-11-14T22:13:20.500Z',
      tempo_bpm: 60,
      window_id: 'w',
    };
    expect(parseBeatFrame(emojiPhase)).toEqual({ success: true, data: emojiPhase });
    const tooLong = parseBeatFrame({ ...emojiPhase, phase: '😀'.repeat(33) });
    expect(tooLong.success).toBe(false);
    expect(tooLong.error?.issues[0]?.path).toEqual(['phase']);
  });
});
