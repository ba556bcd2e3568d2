import { StatusClaimValidationError, type StatusClaimIssue } from '../errors';
import {
  StatusClaimInputSchema,
  StatusClaimSchema,
  type ValidStatusClaimInput,
} from '../protocol/status-claim';

/** What a required field holds, for the message that says it is missing. */
const REQUIRED: Readonly<Record<string, string>> = {
  state: `one of ${StatusClaimInputSchema.shape.state.options.join(', ')}`,
  beatsLeft: 'a whole number ≥ 0, the beats the task still needs',
  progress: 'a number from 0 to 1, the share of the task done',
};

const INPUT_FIELDS = Object.keys(StatusClaimInputSchema.shape);

/** Wire fields that the SDK fills itself and that an input must not carry. */
const FILLED_BY_SDK = Object.keys(StatusClaimSchema.shape).filter(
  (field) => !INPUT_FIELDS.includes(normalizedMatch(field) ?? ''),
);

/** Inputs that came out of {@link validateClaimInput}: frozen, so they are still valid. */
const validated = new WeakSet<object>();

/**
 * Validates what a caller gives `emitStatusClaim` (camelCase, docs/protocol.md section 5)
 * without filling anything, so that an invalid input costs no HLC tick and publishes nothing.
 * Strict: a field the input does not have (`beats_left`, `task_id`) is an issue, naming the
 * field meant when it is a near spelling of one.
 *
 * @example
 * validateClaimInput({ state: 'executing', beatsLeft: 5, progress: 0.3 });
 * // { state: 'executing', beatsLeft: 5, progress: 0.3, notes: '' }
 * validateClaimInput({ state: 'executing', beats_left: 3 });
 * // throws StatusClaimValidationError: beatsLeft: missing …; progress: missing …;
 * //   beats_left: unknown field, did you mean beatsLeft?
 * @param input Anything; only a valid `StatusClaimInput` passes.
 * @return A new, frozen, valid input with defaults applied; the caller's object is not touched.
 * @throws StatusClaimValidationError whose `issues` name every bad field by its camelCase path.
 */
export function validateClaimInput(input: unknown): ValidStatusClaimInput {
  const result = StatusClaimInputSchema.safeParse(input);
  if (!result.success) {
    throw new StatusClaimValidationError(
      result.error.issues.flatMap((issue): StatusClaimIssue[] => {
        if (issue.code === 'unrecognized_keys') return issue.keys.map(unknownField);
        const path = issue.path.map((key) => (typeof key === 'number' ? key : String(key)));
        const field = path.length === 1 ? String(path[0]) : undefined;
        if (field !== undefined && issue.code === 'invalid_type' && isMissing(input, field)) {
          const holds = REQUIRED[field];
          return [{ path, message: holds ? `missing: required, ${holds}` : 'missing' }];
        }
        return [{ path, message: issue.message }];
      }),
    );
  }
  const valid = result.data;
  if (valid.waitFor !== undefined) Object.freeze(valid.waitFor);
  validated.add(Object.freeze(valid));
  return valid;
}

/**
 * `input` when {@link validateClaimInput} returned it, else `validateClaimInput(input)`: the
 * claim chain validates once, and an input that skipped `validateClaim()` is still checked.
 *
 * @throws StatusClaimValidationError when it is invalid.
 */
export function validatedClaimInput(input: unknown): ValidStatusClaimInput {
  if (typeof input === 'object' && input !== null && validated.has(input)) {
    return input as ValidStatusClaimInput;
  }
  return validateClaimInput(input);
}

function isMissing(input: unknown, field: string): boolean {
  if (typeof input !== 'object' || input === null) return false;
  return (input as Record<string, unknown>)[field] === undefined;
}

function unknownField(key: string): StatusClaimIssue {
  const meant = normalizedMatch(key) ?? nearestField(key);
  let message = 'unknown field';
  if (meant !== undefined && meant !== key) message += `, did you mean ${meant}?`;
  else if (FILLED_BY_SDK.includes(key)) message += ': the SDK fills it';
  else message += ` (the fields are ${INPUT_FIELDS.join(', ')})`;
  return { path: [key], message };
}

/** Letters and digits only, lower case: `beats_left`, `BeatsLeft` and `beats-left` agree. */
function normalized(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** The input field `key` spells in another case style (`task_id` → `taskId`), if any. */
function normalizedMatch(key: string): string | undefined {
  return INPUT_FIELDS.find((field) => normalized(field) === normalized(key));
}

/** The input field within two edits of `key` (`progres`, `beatLeft`, `note`), if one is. */
function nearestField(key: string): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const field of INPUT_FIELDS) {
    const distance = editDistance(normalized(key), normalized(field));
    if (distance < bestDistance) [best, bestDistance] = [field, distance];
  }
  return best;
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min(previous[j] + 1, row[j - 1] + 1, substitution));
    }
    previous = row;
  }
  return previous[b.length];
}
