/**
 * What `backbeat tap` reports, one event at a time: each beat, each rejected frame, each claim
 * with its verdict, and once a bar a table of every agent's latest state. Events are plain
 * snake_case objects: `--json` prints them as they are, one per line.
 */
import { headerValues, type HeadersLike } from '../protocol/headers';
import type { AcceptedFrame, FrameRejectReason } from '../protocol/judge';
import { beatIndexToLegacy } from '../protocol/legacy';
import type { StatusClaim } from '../protocol/status-claim';
import { parseStatusSubject } from '../protocol/subjects';
import type { StatusRejectReason, StatusVerdict } from '../operators/verify-status';

/** A beat the frame judge accepted. */
export interface TapBeatEvent {
  readonly kind: 'beat';
  readonly beat_index: number;
  /** The legacy bar and beat in it, both from 1. */
  readonly bar: number;
  readonly beat: number;
  readonly downbeat: boolean;
  readonly phase: string;
  readonly tempo_bpm: number;
  readonly beats_per_bar: number;
  readonly pulse_id: string;
  readonly window_id: string;
  readonly source: 'pulse' | 'legacy';
  /** The frame's `hlc` is more than the maximum skew ahead of this machine's clock. */
  readonly hlc_skew: boolean;
  readonly deadline_at: string;
  /** When it arrived here (ISO 8601, UTC). */
  readonly received_at: string;
  /**
   * Arrival minus the `deadline_at` of the previous frame, which said when this beat was due
   * (positive: late). Null for the first beat, after a gap, or when the pulse changed.
   */
  readonly late_ms: number | null;
  /** Time since the previous beat arrived; null for the first. */
  readonly interval_ms: number | null;
}

/** A payload on the beat subject that the frame judge rejected. */
export interface TapFrameRejectedEvent {
  readonly kind: 'frame-rejected';
  readonly reason: FrameRejectReason;
  readonly bytes: number;
  readonly received_at: string;
}

/** How an accepted claim was signed. */
export type ClaimSignature =
  /** By a key the trusted keys file lists for the agent. */
  | 'trusted-key'
  /** By a key the file does not list: it verifies (the bytes are intact) but proves no identity. */
  | 'untrusted-key'
  /** Not at all (accepted only while signatures are not required). */
  | 'unsigned';

/** A status claim message and the observer's verdict on it. */
export interface TapClaimEvent {
  readonly kind: 'claim';
  readonly subject: string;
  /** The agent the claim or its subject names; null when neither names one. */
  readonly agent_id: string | null;
  /** `'ok'`, or the reason of docs/protocol.md section 5 it was rejected for. */
  readonly verdict: 'ok' | StatusRejectReason;
  /** How it was signed; null when rejected. */
  readonly signature: ClaimSignature | null;
  /** The claim when accepted, else null. */
  readonly claim: StatusClaim | null;
  readonly received_at: string;
}

/** One agent's row in the table: its last accepted claim and its last verdict. */
export interface TapAgentRow {
  readonly agent_id: string;
  /** From the last accepted claim: null while none was accepted. */
  readonly state: string | null;
  readonly task_id: string | null;
  readonly progress: number | null;
  readonly beats_left: number | null;
  /** The beat the last accepted claim was made at. */
  readonly beat_index: number | null;
  /** The verdict on the agent's last claim message, accepted or not. */
  readonly verdict: 'ok' | StatusRejectReason;
  readonly signature: ClaimSignature | null;
}

/** Every agent's latest state, printed on each downbeat. */
export interface TapTableEvent {
  readonly kind: 'table';
  readonly beat_index: number;
  readonly bar: number;
  readonly window_id: string;
  /** Sorted by agent id. */
  readonly agents: readonly TapAgentRow[];
}

/** Anything tap reports. */
export type TapEvent = TapBeatEvent | TapFrameRejectedEvent | TapClaimEvent | TapTableEvent;

/** An accepted frame and when it arrived: what the next beat is measured against. */
export interface ArrivedFrame {
  readonly frame: AcceptedFrame;
  readonly arrivalMs: number;
  /** When it arrived on a monotonic clock: intervals use it when both frames have it. */
  readonly arrivalMonoMs?: number;
}

/**
 * The event of an accepted frame.
 *
 * @example
 * beatEvent({ frame, arrivalMs: Date.now() }, 'pulse', false, previous);
 * @param arrived The frame and its arrival (ms since the epoch).
 * @param source Whether it was a BeatFrame or a converted legacy frame.
 * @param previous The previous accepted frame, if any.
 */
export function beatEvent(
  arrived: ArrivedFrame,
  source: 'pulse' | 'legacy',
  hlcSkew: boolean,
  previous: ArrivedFrame | undefined,
): TapBeatEvent {
  const { frame, arrivalMs } = arrived;
  const { bar, beat } = beatIndexToLegacy(frame.beat_index, frame.beats_per_bar);
  const follows =
    previous !== undefined &&
    previous.frame.pulse_id === frame.pulse_id &&
    frame.beat_index === previous.frame.beat_index + 1;
  const dueMs = follows ? Date.parse(previous.frame.deadline_at) : NaN;
  return {
    kind: 'beat',
    beat_index: frame.beat_index,
    bar,
    beat,
    downbeat: frame.downbeat,
    phase: frame.phase,
    tempo_bpm: frame.tempo_bpm,
    beats_per_bar: frame.beats_per_bar,
    pulse_id: frame.pulse_id,
    window_id: frame.window_id,
    source,
    hlc_skew: hlcSkew,
    deadline_at: frame.deadline_at,
    received_at: new Date(arrivalMs).toISOString(),
    late_ms: Number.isFinite(dueMs) ? Math.round(arrivalMs - dueMs) : null,
    interval_ms: previous === undefined ? null : Math.round(intervalMs(arrived, previous)),
  };
}

/**
 * Time between two arrivals: on the monotonic clock when both were read on it, which a step of
 * the wall clock does not move.
 */
function intervalMs(arrived: ArrivedFrame, previous: ArrivedFrame): number {
  if (arrived.arrivalMonoMs !== undefined && previous.arrivalMonoMs !== undefined) {
    return arrived.arrivalMonoMs - previous.arrivalMonoMs;
  }
  return arrived.arrivalMs - previous.arrivalMs;
}

/**
 * The event of a rejected frame.
 *
 * @param arrivalMs When it arrived (ms since the epoch).
 */
export function frameRejectedEvent(
  reason: FrameRejectReason,
  bytes: number,
  arrivalMs: number,
): TapFrameRejectedEvent {
  return {
    kind: 'frame-rejected',
    reason,
    bytes,
    received_at: new Date(arrivalMs).toISOString(),
  };
}

/**
 * The event of a claim message and its verdict.
 *
 * @example
 * claimEvent(verdict, msg.headers, new Set(Object.keys(trustedKeys)), Date.now());
 * @param verdict verifyStatus's verdict on the message.
 * @param message The message's subject and headers (the headers tell whether it was signed).
 * @param trustedAgents The agents the trusted keys file lists.
 * @param arrivalMs When it arrived (ms since the epoch).
 */
export function claimEvent(
  verdict: StatusVerdict,
  message: { readonly subject: string; readonly headers?: HeadersLike },
  trustedAgents: ReadonlySet<string>,
  arrivalMs: number,
): TapClaimEvent {
  const received_at = new Date(arrivalMs).toISOString();
  if (!verdict.ok) {
    return {
      kind: 'claim',
      subject: message.subject,
      agent_id: parseStatusSubject(message.subject)?.agentId ?? null,
      verdict: verdict.reason,
      signature: null,
      claim: null,
      received_at,
    };
  }
  const { claim } = verdict;
  const signed = headerValues(message.headers, 'x-signature').length > 0;
  return {
    kind: 'claim',
    subject: message.subject,
    agent_id: claim.agent_id,
    verdict: 'ok',
    signature: !signed
      ? 'unsigned'
      : trustedAgents.has(claim.agent_id)
        ? 'trusted-key'
        : 'untrusted-key',
    claim,
    received_at,
  };
}
