import { z } from 'zod';
import { TOKEN_PATTERN } from './subjects';

/** Largest payload the protocol allows, in bytes (docs/protocol.md sections 1 and 5). */
export const MAX_PAYLOAD_BYTES = 4096;

/** Largest beat index: 2^53−1. */
export const MAX_BEAT_INDEX = Number.MAX_SAFE_INTEGER;

/** HLC text form, docs/protocol.md section 7. */
export const HLC_PATTERN = /^([0-9a-f]{12}):([0-9a-f]{4}):([A-Za-z0-9_-]{1,128})$/;

/** Number of Unicode code points in `text` (the protocol counts lengths so). */
export function codePointLength(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    length++;
  }
  return length;
}

/** A string of `min` to `max` Unicode code points. */
export function codePoints(min: number, max: number) {
  return z.string().refine(
    (text) => {
      const length = codePointLength(text);
      return length >= min && length <= max;
    },
    { message: `must be ${min === 0 ? `at most ${max}` : `${min} to ${max}`} characters` },
  );
}

/** A cluster, agent or pulse id. */
export const tokenSchema = z
  .string()
  .regex(TOKEN_PATTERN, { message: 'must be 1 to 128 of A-Z a-z 0-9 _ -' });

export const hlcSchema = z.string().regex(HLC_PATTERN, { message: 'must be an HLC stamp' });

/** A beat index: an integer from 0 to 2^53−1. */
export const beatIndexSchema = z.number().int().min(0).max(MAX_BEAT_INDEX);
