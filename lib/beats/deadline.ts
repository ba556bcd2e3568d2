/**
 * Reads a frame's `deadline_at`: any RFC 3339 form the frame schema accepts (docs/protocol.md
 * section 3), not only the writers' 3 fraction digits. A Go pulse writes RFC3339Nano (up to 9
 * fraction digits, trailing zeros dropped); other writers use an offset instead of `Z`.
 */

const WRITERS_FORM = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * The instant an RFC 3339 time names, in ms since the Unix epoch, sub-millisecond digits kept.
 *
 * @example
 * rfc3339Ms('2023-11-14T22:13:20.500Z'); // 1700000000500
 * rfc3339Ms('2023-11-14T22:13:20.1234567Z'); // 1700000000123.4567
 * rfc3339Ms('2023-11-14T23:13:20+01:00'); // 1700000000000
 * rfc3339Ms('yesterday'); // NaN
 * @param text The time.
 * @return Ms since the epoch, or NaN when `text` is not an RFC 3339 time.
 */
export function rfc3339Ms(text: string): number {
  // The writers' form (every frame of this SDK's pulse): V8 parses it exactly, and fast.
  if (WRITERS_FORM.test(text)) return Date.parse(text);
  const match = RFC3339.exec(text);
  if (match === null) return Number.NaN;
  const [, year, month, day, hour, minute, second, fraction, zulu, sign, offH, offM] = match;
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0–99 as 1900–1999.
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  date.setUTCHours(Number(hour), Number(minute), Number(second), 0);
  let ms = date.getTime();
  if (fraction !== undefined) ms += Number(`0.${fraction}`) * 1000;
  if (zulu === undefined) {
    const offsetMs = (Number(offH) * 60 + Number(offM)) * 60_000;
    ms += sign === '-' ? offsetMs : -offsetMs;
  }
  return ms;
}
