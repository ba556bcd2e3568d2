import { z } from 'zod';
import { beatIndexSchema, codePoints, hlcSchema, tokenSchema } from './text';

/**
 * The `type` of every BeatFrame.
 *
 * @example
 * ```ts
 * beat.type === BEAT_FRAME_TYPE; // 'backbeat.beatframe.v1'
 * ```
 */
export const BEAT_FRAME_TYPE = 'backbeat.beatframe.v1';

/** Phases only the SDK may use: a pulse frame with one of them is `reserved-phase`. */
export const RESERVED_PHASES: ReadonlySet<string> = new Set(['degraded', 'legacy']);

/**
 * BeatFrame on the wire (docs/protocol.md section 3). Unknown fields are stripped.
 *
 * @example
 * ```ts
 * const result = BeatFrameSchema.safeParse(JSON.parse(new TextDecoder().decode(msg.data)));
 * if (result.success) console.log(result.data.beat_index, result.data.tempo_bpm);
 * ```
 */
export const BeatFrameSchema = z.object({
  type: z.literal(BEAT_FRAME_TYPE),
  cluster_id: tokenSchema,
  pulse_id: tokenSchema,
  beat_index: beatIndexSchema,
  downbeat: z.boolean(),
  phase: codePoints(1, 32),
  hlc: hlcSchema,
  deadline_at: z.iso.datetime({ offset: true }),
  tempo_bpm: z.number().min(1).max(6000),
  window_id: z.string(),
  beats_per_bar: z.number().int().min(1).max(64).optional(),
});

/**
 * A beat frame as the pulse sends it: the output of {@link BeatFrameSchema}.
 *
 * @example
 * ```ts
 * const frame: BeatFrame = BeatFrameSchema.parse(json);
 * const barStart = frame.downbeat;
 * ```
 */
export type BeatFrame = z.infer<typeof BeatFrameSchema>;
