/**
 * Parsers of option values for commander: each returns the value or throws commander's
 * `InvalidArgumentError`, which commander reports as a usage error naming the option.
 */
import { InvalidArgumentError } from 'commander';
import { isToken } from '../protocol/subjects';

/**
 * A cluster or pulse id: a NATS token.
 *
 * @example
 * parseToken('chorus-dev'); // 'chorus-dev'
 * parseToken('a.b'); // throws InvalidArgumentError
 */
export function parseToken(value: string): string {
  if (!isToken(value)) {
    throw new InvalidArgumentError('must be 1 to 128 characters of A-Z a-z 0-9 _ - (a NATS token)');
  }
  return value;
}

/**
 * An integer within bounds, written in decimal.
 *
 * @example
 * const parseBeatsPerBar = integerParser(1, 64);
 * parseBeatsPerBar('4'); // 4
 * @return A parser for commander.
 */
export function integerParser(min: number, max: number): (value: string) => number {
  return (value) => {
    const number = /^[0-9]+$/.test(value.trim()) ? Number(value.trim()) : NaN;
    if (!Number.isSafeInteger(number) || number < min || number > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `must be an integer of at least ${min}`
          : `must be an integer from ${min} to ${max}`,
      );
    }
    return number;
  };
}

/**
 * A tempo in beats per minute: a number from 1 to 6000 (decimals allowed).
 *
 * @example
 * parseTempo('90'); // 90
 * parseTempo('0'); // throws InvalidArgumentError
 */
export function parseTempo(value: string): number {
  const number = /^[0-9]+(\.[0-9]+)?$/.test(value.trim()) ? Number(value) : NaN;
  if (!(number >= 1 && number <= 6000)) {
    throw new InvalidArgumentError('must be a number of beats per minute from 1 to 6000');
  }
  return number;
}

/**
 * NATS server URLs: one, or several separated by commas.
 *
 * @example
 * parseNatsUrls('nats://a:4222,nats://b:4222'); // ['nats://a:4222', 'nats://b:4222']
 */
export function parseNatsUrls(value: string): string[] {
  const urls = value
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url.length > 0);
  if (urls.length === 0) throw new InvalidArgumentError('must name a NATS server URL');
  return urls;
}

/**
 * Comma-separated phase labels, e.g. `plan,work,work,review` (startPulse checks each).
 */
export function parsePhases(value: string): string[] {
  const phases = value.split(',').map((phase) => phase.trim());
  if (phases.some((phase) => phase.length === 0)) {
    throw new InvalidArgumentError('must be phase labels separated by commas, none empty');
  }
  return phases;
}

/**
 * Collects a repeatable option's values.
 */
export function collect(value: string, previous: readonly string[] = []): string[] {
  return [...previous, value];
}
