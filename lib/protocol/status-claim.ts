import { z } from 'zod';
import { beatIndexSchema, codePoints, hlcSchema, tokenSchema } from './text';

/**
 * The `type` of every StatusClaim.
 *
 * @example
 * ```ts
 * claim.type === STATUS_CLAIM_TYPE; // 'backbeat.statusclaim.v1'
 * ```
 */
export const STATUS_CLAIM_TYPE = 'backbeat.statusclaim.v1';

/**
 * What an agent can say it is doing: the values of a claim's `state`.
 *
 * @example
 * ```ts
 * const finished = (claim: StatusClaim) => claim.state === 'done' || claim.state === 'failed';
 * CLAIM_STATES.includes('review'); // true
 * ```
 */
export const CLAIM_STATES = [
  'executing',
  'planning',
  'waiting',
  'review',
  'done',
  'failed',
] as const;

const stateSchema = z.enum(CLAIM_STATES);
const waitForSchema = z.array(codePoints(1, 256)).max(32);
const beatsLeftSchema = z
  .number()
  .int()
  .min(0)
  .max(2 ** 31 - 1);
const progressSchema = z.number().min(0).max(1);
const notesSchema = codePoints(0, 256);
const taskIdSchema = codePoints(1, 128);

/**
 * StatusClaim on the wire (docs/protocol.md section 5), snake_case. Unknown fields are stripped.
 *
 * @example
 * ```ts
 * const result = StatusClaimSchema.safeParse(JSON.parse(new TextDecoder().decode(msg.data)));
 * if (result.success) console.log(result.data.agent_id, result.data.state);
 * ```
 */
export const StatusClaimSchema = z.object({
  type: z.literal(STATUS_CLAIM_TYPE),
  cluster_id: tokenSchema,
  agent_id: tokenSchema,
  task_id: taskIdSchema,
  beat_index: beatIndexSchema,
  window_id: z.string().regex(/^[0-9a-f]{32}$/, { message: 'must be a window id' }),
  state: stateSchema,
  wait_for: waitForSchema.optional(),
  beats_left: beatsLeftSchema,
  progress: progressSchema,
  notes: notesSchema,
  hlc: hlcSchema,
});

/**
 * A status claim as it travels: the output of {@link StatusClaimSchema}.
 *
 * @example
 * ```ts
 * const claim: StatusClaim = await client.emitStatusClaim({ state: 'executing', beatsLeft: 5, progress: 0.3 });
 * console.log(claim.beat_index, claim.window_id, claim.hlc);
 * ```
 */
export type StatusClaim = z.infer<typeof StatusClaimSchema>;

/**
 * What a caller gives `emitStatusClaim`: camelCase, the SDK fills the rest. `state`,
 * `beatsLeft` and `progress` are required; an empty or absent `taskId` becomes the client's
 * default task id; `notes` defaults to empty. Strict: any other field (`beats_left`, `task_id`)
 * is an issue, not silently dropped.
 *
 * @example
 * ```ts
 * StatusClaimInputSchema.safeParse({ state: 'waiting', beatsLeft: 2, progress: 0.5, waitFor: ['db'] }).success; // true
 * StatusClaimInputSchema.safeParse({ state: 'waiting', beats_left: 2, progress: 0.5 }).success; // false
 * ```
 */
export const StatusClaimInputSchema = z.strictObject({
  taskId: z.union([z.literal(''), taskIdSchema]).optional(),
  state: stateSchema,
  waitFor: waitForSchema.optional(),
  beatsLeft: beatsLeftSchema,
  progress: progressSchema,
  notes: notesSchema.default(''),
});

/**
 * A status claim input, as callers write it.
 *
 * @example
 * ```ts
 * const input: StatusClaimInput = { taskId: 'job-42', state: 'executing', beatsLeft: 5, progress: 0.3, notes: 'indexing' };
 * await client.emitStatusClaim(input);
 * ```
 */
export type StatusClaimInput = z.input<typeof StatusClaimInputSchema>;
/** A status claim input after validation (defaults applied). */
export type ValidStatusClaimInput = z.output<typeof StatusClaimInputSchema>;
