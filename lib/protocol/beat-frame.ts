import { z } from 'zod';
import { beatIndexSchema, codePoints, hlcSchema, tokenSchema } from './text';

/** The `type` of every BeatFrame. */
export const BEAT_FRAME_TYPE = 'backbeat.beatframe.v1';

/** Phases only the SDK may use: a pulse frame with one of them is `reserved-phase`. */
export const RESERVED_PHASES: ReadonlySet<string> = new Set(['degraded', 'legacy']);

/** BeatFrame on the wire (PROTOCOL.md section 3). Unknown fields are stripped. */
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

/** A beat frame as the pulse sends it. */
export type BeatFrame = z.infer<typeof BeatFrameSchema>;
