/**
 * Builds delivered {@link Beat}s: frozen, every BeatFrame field explicit (nothing a caller's
 * object carries besides them leaks into a beat).
 */
import { BEAT_FRAME_TYPE } from '../protocol/beat-frame';
import type { AcceptedFrame } from '../protocol/judge';
import { windowIdFor } from '../protocol/windows';
import type { Beat, BeatSource } from './beat';

/** What the SDK adds to a frame when it delivers it. */
export interface BeatDelivery {
  /** Wall clock (ms since the epoch) of receipt or creation. */
  readonly receivedAtMs: number;
  /** Indexes skipped just before this beat. */
  readonly missedBefore: number;
  /** Whether this beat starts a new timeline. */
  readonly timelineReset: boolean;
}

/**
 * A delivered beat made from an accepted pulse (or converted legacy) frame.
 *
 * @example
 * const beat = beatFromFrame(verdict.frame, 'pulse', { receivedAtMs: Date.now(), missedBefore: 0, timelineReset: false });
 * @param frame The judge's accepted frame.
 * @param source `'pulse'` or `'legacy'`.
 * @param delivery Receipt time, missed count and reset flag.
 * @return The frozen beat.
 */
export function beatFromFrame(
  frame: AcceptedFrame,
  source: Exclude<BeatSource, 'synthetic'>,
  delivery: BeatDelivery,
): Beat {
  return Object.freeze({
    type: frame.type,
    cluster_id: frame.cluster_id,
    pulse_id: frame.pulse_id,
    beat_index: frame.beat_index,
    downbeat: frame.downbeat,
    phase: frame.phase,
    hlc: frame.hlc,
    deadline_at: frame.deadline_at,
    tempo_bpm: frame.tempo_bpm,
    window_id: frame.window_id,
    beats_per_bar: frame.beats_per_bar,
    source,
    receivedAtMs: delivery.receivedAtMs,
    missedBefore: delivery.missedBefore,
    timelineReset: delivery.timelineReset,
  });
}

/** What a synthetic beat is made of (docs/protocol.md section 9). */
export interface SyntheticBeatParts {
  readonly clusterId: string;
  /** The agent id: a synthetic frame's `pulse_id`. */
  readonly agentId: string;
  readonly beatIndex: number;
  readonly beatsPerBar: number;
  readonly tempoBpm: number;
  /** A fresh tick of the agent's HLC. */
  readonly hlc: string;
  /** Wall clock (ms since the epoch) when the next beat is due. */
  readonly nextDueWallMs: number;
  /** Wall clock (ms since the epoch) now. */
  readonly receivedAtMs: number;
  /** Slots skipped just before this beat (an event-loop stall). */
  readonly missedBefore: number;
  /** Whether it starts a new timeline (the beat after index 2^53−1). Default false. */
  readonly timelineReset?: boolean;
}

/**
 * A synthetic beat: phase `degraded`, the agent's id as `pulse_id`, windows by docs/protocol.md
 * section 6, `deadline_at` in the writers' form (UTC, 3 fraction digits, `Z`).
 *
 * @example
 * syntheticBeat({ clusterId: 'c', agentId: 'a', beatIndex: 4, beatsPerBar: 4, tempoBpm: 60,
 *   hlc: clock.tick(), nextDueWallMs: Date.now() + 1000, receivedAtMs: Date.now(), missedBefore: 0 });
 * @param parts Its fields.
 * @return The frozen beat, `source` `'synthetic'`; a timeline reset only when the index wrapped
 * from 2^53−1 to 0.
 */
export function syntheticBeat(parts: SyntheticBeatParts): Beat {
  return Object.freeze({
    type: BEAT_FRAME_TYPE,
    cluster_id: parts.clusterId,
    pulse_id: parts.agentId,
    beat_index: parts.beatIndex,
    downbeat: parts.beatIndex % parts.beatsPerBar === 0,
    phase: 'degraded',
    hlc: parts.hlc,
    deadline_at: new Date(parts.nextDueWallMs).toISOString(),
    tempo_bpm: parts.tempoBpm,
    window_id: windowIdFor(parts.clusterId, parts.beatIndex, parts.beatsPerBar),
    beats_per_bar: parts.beatsPerBar,
    source: 'synthetic',
    receivedAtMs: parts.receivedAtMs,
    missedBefore: parts.missedBefore,
    timelineReset: parts.timelineReset ?? false,
  });
}
