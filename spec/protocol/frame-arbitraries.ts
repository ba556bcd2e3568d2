/**
 * fast-check arbitraries of BeatFrame objects for the frame judge's fast paths: valid fields with
 * their edges, plausible wrong values, and frames with fields dropped, replaced or added.
 */
import fc from 'fast-check';

const pad = (value: number, width: number) => String(value).padStart(width, '0');

const token = fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/);
const hlc = fc
  .tuple(fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.integer({ min: 0, max: 0xffff }), token)
  .map(
    ([l, c, node]) =>
      `${l.toString(16).padStart(12, '0')}:${c.toString(16).padStart(4, '0')}:${node}`,
  );

/** Writers' form: UTC, 3 fraction digits, `Z`. */
const canonicalDeadline = fc
  .date({ min: new Date(0), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true })
  .map((date) => date.toISOString());

/** Any RFC 3339-looking text, valid or not: every part can be out of range. */
const deadline = fc.oneof(
  canonicalDeadline,
  fc
    .record({
      year: fc.integer({ min: 0, max: 9999 }),
      month: fc.integer({ min: 0, max: 13 }),
      day: fc.integer({ min: 0, max: 32 }),
      hour: fc.integer({ min: 0, max: 24 }),
      minute: fc.integer({ min: 0, max: 60 }),
      second: fc.integer({ min: 0, max: 61 }),
      fraction: fc.constantFrom('', '.', '.5', '.123', '.1234567'),
      zone: fc.constantFrom('Z', 'z', '', '+01:00', '-23:59', '+24:00', '+01:60', '+0100', '+01'),
      separator: fc.constantFrom('T', 'T', 'T', 't', ' '),
    })
    .map(
      (p) =>
        `${pad(p.year, 4)}-${pad(p.month, 2)}-${pad(p.day, 2)}${p.separator}${pad(p.hour, 2)}:` +
        `${pad(p.minute, 2)}:${pad(p.second, 2)}${p.fraction}${p.zone}`,
    ),
  fc.string(),
);

const junk = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.double(),
  fc.integer(),
  fc.string(),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.object({ maxDepth: 1 }),
);

/** Valid values, with their edges, for every field. */
export const validFields = {
  type: fc.constant('backbeat.beatframe.v1'),
  cluster_id: token,
  pulse_id: token,
  beat_index: fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, -0, Number.MAX_SAFE_INTEGER)),
  downbeat: fc.boolean(),
  phase: fc.oneof(
    fc.string({ minLength: 1, maxLength: 32 }),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 32 }),
    fc.string({ unit: fc.constantFrom('\ud800', '\udc00', 'a'), minLength: 1, maxLength: 34 }),
  ),
  hlc,
  deadline_at: canonicalDeadline,
  tempo_bpm: fc.oneof(
    fc.double({ min: 1, max: 6000, noNaN: true }),
    fc.integer({ min: 1, max: 6000 }),
    fc.constantFrom(1, 6000),
  ),
  window_id: fc.oneof(fc.stringMatching(/^[0-9a-f]{32}$/), fc.string()),
  beats_per_bar: fc.integer({ min: 1, max: 64 }),
};
export type Field = keyof typeof validFields;
export const FIELDS = Object.keys(validFields) as Field[];

/** Plausible wrong values for every field. */
const wrongFields: Record<Field, fc.Arbitrary<unknown>> = {
  type: fc.oneof(fc.constantFrom('backbeat.beatframe.v2', 'BACKBEAT.BEATFRAME.V1', ''), junk),
  cluster_id: fc.oneof(fc.constantFrom('', 'a.b', 'x'.repeat(129), 'a\n'), junk),
  pulse_id: fc.oneof(fc.constantFrom('', 'a b', 'é'), junk),
  beat_index: fc.oneof(
    fc.constantFrom(-1, 0.5, 2 ** 53, 2 ** 60, NaN, Infinity, -Infinity, '8', 8n),
    fc.double(),
    junk,
  ),
  downbeat: fc.oneof(fc.constantFrom(0, 1, 'true'), junk),
  phase: fc.oneof(
    fc.constantFrom('', 'x'.repeat(33), '😀'.repeat(32), '😀'.repeat(33)),
    fc.string({ unit: 'binary', maxLength: 40 }),
    junk,
  ),
  hlc: fc.oneof(
    fc.constantFrom('018BCFE56800:0000:p', '018bcfe56800:0000:p\n', '018bcfe56800:000:p', ''),
    junk,
  ),
  deadline_at: fc.oneof(deadline, junk),
  tempo_bpm: fc.oneof(
    fc.constantFrom(0, 0.9999999, 6000.000001, -1, NaN, Infinity, '120', null),
    fc.double(),
    junk,
  ),
  window_id: junk,
  beats_per_bar: fc.oneof(
    fc.constantFrom(0, 65, 4.5, -1, NaN, '4', null, undefined),
    fc.double(),
    junk,
  ),
};

/** A frame object: valid fields, then up to three dropped, replaced, or extra ones. */
export const frameObject = fc
  .tuple(
    fc.record(validFields, { requiredKeys: FIELDS.filter((f) => f !== 'beats_per_bar') }),
    fc.array(
      fc.oneof(
        fc.record({ kind: fc.constant('drop' as const), field: fc.constantFrom(...FIELDS) }),
        fc.constantFrom(...FIELDS).chain((field) =>
          wrongFields[field].map((value) => ({
            kind: 'set' as const,
            field: field,
            value,
          })),
        ),
        fc.record({
          kind: fc.constant('set' as const),
          field: fc.constantFrom('extra', '__proto__', 'constructor', 'toString'),
          value: junk,
        }),
      ),
      { maxLength: 3 },
    ),
  )
  .map(([frame, edits]) => {
    const object: Record<string, unknown> = { ...frame };
    for (const edit of edits) {
      if (edit.kind === 'drop') delete object[edit.field];
      else
        Object.defineProperty(object, edit.field, {
          value: edit.value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
    return object;
  });
