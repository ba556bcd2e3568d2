import fc from 'fast-check';
import { HybridLogicalClock } from '../../lib/clock/hlc';
import { BeatFrameSchema } from '../../lib/protocol/beat-frame';
import { readWrittenFrame } from '../../lib/protocol/frame-text';
import { judgeFrame } from '../../lib/protocol/judge';
import { makePulseFrame } from '../../lib/pulse/frame';
import { frameObject } from './frame-arbitraries';

const decoder = new TextDecoder();

/** A frame object as JSON text, or null when JSON cannot say it (a bigint field). */
function jsonText(object: unknown): string | null {
  try {
    return JSON.stringify(object) ?? null;
  } catch {
    return null;
  }
}

/** Characters that break or bend the writers' form: JSON syntax, escapes, digits, non-ASCII. */
const editChar = fc.constantFrom(
  ...'"\\ ,:{}.-+eEZTa0123456789',
  'é',
  '\n',
  '\u2028',
  '\u0000',
  '😀',
);

/** A text with up to three characters inserted, deleted or replaced. */
function edited(text: string): fc.Arbitrary<string> {
  const edit = fc.record({
    kind: fc.constantFrom('insert', 'delete', 'replace'),
    at: fc.nat({ max: text.length }),
    char: editChar,
  });
  return fc.array(edit, { maxLength: 3 }).map((edits) =>
    edits.reduce((out, { kind, at, char }) => {
      const i = Math.min(at, out.length);
      if (kind === 'insert') return out.slice(0, i) + char + out.slice(i);
      if (kind === 'delete') return out.slice(0, i) + out.slice(i + 1);
      return out.slice(0, i) + char + out.slice(i + 1);
    }, text),
  );
}

/** What a pulse writes: makePulseFrame over its whole range of inputs. */
const pulseFrame = fc
  .record({
    clusterId: fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/),
    pulseId: fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/),
    beatIndex: fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER)),
    tempoBpm: fc.oneof(
      fc.integer({ min: 1, max: 6000 }),
      fc.double({ min: 1, max: 6000, noNaN: true }),
    ),
    beatsPerBar: fc.integer({ min: 1, max: 64 }),
    phases: fc.array(fc.stringMatching(/^[a-z]{1,32}$/), { minLength: 1, maxLength: 4 }),
    wallMs: fc.integer({ min: 0, max: 253402300799999 }),
  })
  .map((input) =>
    makePulseFrame({
      ...input,
      clock: new HybridLogicalClock(input.pulseId, { physicalNow: () => input.wallMs }),
      deadlineAtMs: input.wallMs,
    }),
  );

/**
 * A text with some of its digits changed: dates, times, indexes and counts out of range (month
 * 13, second 60, February 29 of a common year, a bar of 99 beats, leading zeros).
 */
function digitsChanged(text: string): fc.Arbitrary<string> {
  const digits = text.replace(/\D/g, '').length;
  return fc
    .array(
      fc.oneof(
        { weight: 19, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 9 }) },
      ),
      {
        minLength: digits,
        maxLength: digits,
      },
    )
    .map((changes) => {
      let i = 0;
      return text.replace(/\d/g, (digit) => String(changes[i++] ?? digit));
    });
}

/** JSON texts of frames, valid or not, as a pulse or anyone wrote them, or edited. */
const frameText = fc
  .oneof(
    frameObject.map(jsonText).filter((text): text is string => text !== null),
    pulseFrame.map(({ payload }) => decoder.decode(payload)),
  )
  .chain((text) => fc.oneof(fc.constant(text), edited(text), digitsChanged(text)));

describe('readWrittenFrame', () => {
  it('never accepts a text BeatFrameSchema rejects, and returns exactly what it returns', () => {
    let answered = 0;
    fc.assert(
      fc.property(frameText, (text) => {
        const result = readWrittenFrame(text);
        if (result === undefined) return;
        answered++;
        const schema = BeatFrameSchema.safeParse(JSON.parse(text));
        expect(schema.success).toBe(true);
        expect(result).toStrictEqual(schema.data);
        expect(Object.keys(result)).toEqual(Object.keys(schema.data!));
      }),
      { numRuns: 10000 },
    );
    // The comparison above proves nothing if the fast path never answers.
    expect(answered).toBeGreaterThan(300);
  });

  it('answers for every frame a pulse writes, with what the schema gives', () => {
    fc.assert(
      fc.property(pulseFrame, ({ payload }) => {
        const text = decoder.decode(payload);
        expect(readWrittenFrame(text)).toStrictEqual(BeatFrameSchema.parse(JSON.parse(text)));
      }),
      { numRuns: 2000 },
    );
  });

  const written =
    '{"type":"backbeat.beatframe.v1","cluster_id":"c","pulse_id":"p","beat_index":8,' +
    '"downbeat":true,"phase":"plan","hlc":"018bcfe56800:0000:p",' +
    '"deadline_at":"2023-11-14T22:13:20.500Z","tempo_bpm":120,"window_id":"w","beats_per_bar":4}';

  it('reads the writers’ form', () => {
    expect(readWrittenFrame(written)).toStrictEqual(JSON.parse(written));
    const withoutBar = written.replace(',"beats_per_bar":4', '');
    expect(readWrittenFrame(withoutBar)).toStrictEqual(JSON.parse(withoutBar));
  });

  it.each([
    [
      'another key order',
      written.replace('"cluster_id":"c","pulse_id":"p"', '"pulse_id":"p","cluster_id":"c"'),
    ],
    ['whitespace', written.replace(',"pulse_id"', ', "pulse_id"')],
    ['an unknown field', written.replace('}', ',"extra":1}')],
    ['a repeated field', written.replace('}', ',"beats_per_bar":4}')],
    ['an escape', written.replace('"plan"', '"pl\\u0061n"')],
    ['a non-ASCII phase', written.replace('"plan"', '"plän"')],
    [
      'a beat index past 2^53−1',
      written.replace('"beat_index":8', '"beat_index":9007199254740992'),
    ],
    ['a negative zero', written.replace('"beat_index":8', '"beat_index":-0')],
    ['an exponent', written.replace('"tempo_bpm":120', '"tempo_bpm":1.2e2')],
    ['a tempo past 6000', written.replace('"tempo_bpm":120', '"tempo_bpm":6000.5')],
    ['a bar of 65 beats', written.replace('"beats_per_bar":4', '"beats_per_bar":65')],
    ['February 30', written.replace('2023-11-14', '2023-02-30')],
    ['February 29 of a common year', written.replace('2023-11-14', '2023-02-29')],
    ['an offset', written.replace('.500Z', '.500+01:00')],
    ['a deadline without fraction', written.replace('.500Z', 'Z')],
  ])('leaves %s to JSON.parse and the schema', (_why, text) => {
    expect(text).not.toBe(written);
    expect(readWrittenFrame(text)).toBeUndefined();
  });

  it('reads February 29 of a leap year', () => {
    const leap = written.replace('2023-11-14', '2024-02-29');
    expect(readWrittenFrame(leap)).toStrictEqual(JSON.parse(leap));
  });

  it('spares the judge JSON.parse for a frame a pulse wrote', () => {
    const clock = new HybridLogicalClock('pulse-a');
    const { payload } = makePulseFrame({
      clusterId: 'chorus-dev',
      pulseId: 'pulse-a',
      beatIndex: 9,
      tempoBpm: 120,
      beatsPerBar: 4,
      phases: ['plan', 'work'],
      clock,
      deadlineAtMs: Date.now() + 500,
    });
    const parse = jest.spyOn(JSON, 'parse');
    try {
      const verdict = judgeFrame(payload, undefined, {
        clusterId: 'chorus-dev',
        acceptLegacyFrames: false,
        maxClockSkewMs: 60000,
        physicalNow: Date.now,
        legacy: () => {
          throw new Error('not a legacy frame');
        },
      });
      expect(verdict).toMatchObject({ ok: true, source: 'pulse', frame: { beat_index: 9 } });
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
  });
});
