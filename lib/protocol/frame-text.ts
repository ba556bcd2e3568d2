/**
 * The frame judge's fastest path: a BeatFrame in the writers' form (PROTOCOL.md section 3) is
 * read straight from its text by one regular expression, without `JSON.parse`.
 *
 * The writers' form is what `JSON.stringify` makes of a frame whose fields are in the order of
 * the protocol's table, with no unknown field: what `startPulse` and the Go pulse send. At ten
 * frames a second V8 never warms the beat path up, and `JSON.parse` plus the field checks cost
 * about 38 µs a frame where this costs about 10. Anything else (another order, whitespace,
 * escapes, non-ASCII text, unknown fields, numbers the pattern does not spell out) is left to
 * `JSON.parse` and `parseBeatFrame`, so the zod schema stays the one source of the type and
 * of every error: a property test proves this never accepts a text the schema rejects and
 * returns exactly what the schema returns.
 */
import { z } from 'zod';
import { BEAT_FRAME_TYPE, type BeatFrame } from './beat-frame';
import { TOKEN_PATTERN } from './subjects';
import { HLC_PATTERN, MAX_BEAT_INDEX } from './text';

/** The body of an anchored pattern (`^…$`), to build a larger one from it. */
function body(pattern: RegExp): string {
  const { source } = pattern;
  if (!source.startsWith('^') || !source.endsWith('$')) {
    throw new Error(`not an anchored pattern: ${source}`);
  }
  return source.slice(1, -1);
}

/** A JSON string's characters that mean themselves: printable ASCII but `"` and `\`. */
const PLAIN_CHAR = String.raw`[\x20\x21\x23-\x5b\x5d-\x7e]`;

/**
 * A `deadline_at` as writers emit it: UTC with exactly 3 fraction digits and `Z`. The date is
 * zod's own date pattern (month lengths, leap years); the time is a strict subset of the time
 * `z.iso.datetime({ offset: true })` accepts.
 */
const WRITTEN_DEADLINE = String.raw`${body(z.regexes.date)}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z`;

/** A JSON number from 1 to 9999 without exponent; the range is checked on its value. */
const PLAIN_TEMPO = String.raw`[1-9]\d{0,3}(?:\.\d+)?`;

/** The writers' form of a BeatFrame, each field in a named group (HLC's own groups unnamed). */
const WRITTEN_FRAME = new RegExp(
  [
    String.raw`^\{"type":"${BEAT_FRAME_TYPE.replace(/\./g, '\\.')}"`,
    `,"cluster_id":"(?<cluster_id>${body(TOKEN_PATTERN)})"`,
    `,"pulse_id":"(?<pulse_id>${body(TOKEN_PATTERN)})"`,
    String.raw`,"beat_index":(?<beat_index>0|[1-9]\d{0,15})`,
    `,"downbeat":(?<downbeat>true|false)`,
    `,"phase":"(?<phase>${PLAIN_CHAR}{1,32})"`,
    `,"hlc":"(?<hlc>${body(HLC_PATTERN)})"`,
    `,"deadline_at":"(?<deadline_at>${WRITTEN_DEADLINE})"`,
    `,"tempo_bpm":(?<tempo_bpm>${PLAIN_TEMPO})`,
    `,"window_id":"(?<window_id>${PLAIN_CHAR}*)"`,
    String.raw`(?:,"beats_per_bar":(?<beats_per_bar>[1-9]\d?))?\}$`,
  ].join(''),
);

/**
 * The frame written in `text`, when `text` is a BeatFrame in the writers' form with every field
 * valid; else undefined, and `JSON.parse` with `parseBeatFrame` must judge it.
 *
 * @example
 * const frame = readWrittenFrame(text) ?? parseBeatFrame(JSON.parse(text));
 *
 * @param text A payload decoded from UTF-8.
 * @return A new object with the schema's fields in the schema's order, or undefined.
 */
export function readWrittenFrame(text: string): BeatFrame | undefined {
  const fields = WRITTEN_FRAME.exec(text)?.groups;
  if (fields === undefined) return undefined;
  // JSON.parse reads a number's text exactly as Number does (the same rounding).
  const beatIndex = Number(fields.beat_index);
  const tempoBpm = Number(fields.tempo_bpm);
  if (beatIndex > MAX_BEAT_INDEX || tempoBpm > 6000) return undefined;
  const frame: BeatFrame = {
    type: BEAT_FRAME_TYPE,
    cluster_id: fields.cluster_id,
    pulse_id: fields.pulse_id,
    beat_index: beatIndex,
    downbeat: fields.downbeat === 'true',
    phase: fields.phase,
    hlc: fields.hlc,
    deadline_at: fields.deadline_at,
    tempo_bpm: tempoBpm,
    window_id: fields.window_id,
  };
  if (fields.beats_per_bar !== undefined) {
    const beatsPerBar = Number(fields.beats_per_bar);
    if (beatsPerBar > 64) return undefined;
    frame.beats_per_bar = beatsPerBar;
  }
  return frame;
}
