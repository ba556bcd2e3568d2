/**
 * The state of one `backbeat tap` run, without NATS: frames and claim verdicts go in, events
 * come out (a beat, its table on a downbeat, a rejected frame, a claim).
 */
import { randomBytes } from 'node:crypto';
import { HybridLogicalClock } from '../clock/hlc';
import type { HeadersLike } from '../protocol/headers';
import { judgeFrame, type JudgeContext } from '../protocol/judge';
import { DEFAULT_BEATS_PER_BAR } from '../protocol/windows';
import type { StatusVerdict } from '../operators/verify-status';
import { AgentBoard } from './agent-board';
import {
  beatEvent,
  claimEvent,
  frameRejectedEvent,
  type ArrivedFrame,
  type TapEvent,
} from './tap-events';

/** Options of a {@link TapSession}. */
export interface TapSessionOptions {
  readonly clusterId: string;
  /** Convert legacy `{ bar, beat }` frames instead of rejecting them as `legacy-off`. */
  readonly acceptLegacyFrames: boolean;
  /** When not empty, only frames signed by one of these 32-byte keys are beats. */
  readonly trustedPulseKeys: readonly Uint8Array[];
  /** The agents the trusted keys file lists (tells a trusted signature from another). */
  readonly trustedAgents: ReadonlySet<string>;
  /** This machine's wall clock, ms since the epoch. */
  readonly physicalNow: () => number;
  /** Frames stamped further ahead than this are flagged `hlc_skew`. Default 60000. */
  readonly maxClockSkewMs?: number;
}

/** Tempo assumed for a legacy frame that carries none, before any frame told one. */
const FALLBACK_TEMPO_BPM = 60;

/** One tap run's memory: the previous beat and every agent's latest state. */
export class TapSession {
  private readonly board = new AgentBoard();
  private readonly judgeContext: JudgeContext;
  private previous: ArrivedFrame | undefined;

  constructor(private readonly options: TapSessionOptions) {
    const clock = new HybridLogicalClock(`tap-${randomBytes(4).toString('hex')}`, {
      physicalNow: options.physicalNow,
    });
    this.judgeContext = {
      clusterId: options.clusterId,
      acceptLegacyFrames: options.acceptLegacyFrames,
      trustedPulseKeys: options.trustedPulseKeys,
      maxClockSkewMs: options.maxClockSkewMs ?? 60000,
      physicalNow: options.physicalNow,
      legacy: () => ({
        beatsPerBar: this.previous?.frame.beats_per_bar ?? DEFAULT_BEATS_PER_BAR,
        tempoBpm: this.previous?.frame.tempo_bpm ?? FALLBACK_TEMPO_BPM,
        hlc: clock.tick(),
      }),
    };
  }

  /**
   * Judges a payload from the beat subject.
   *
   * @example
   * for (const event of session.frame(msg.data, msg.headers, Date.now())) print(event);
   * @param arrivalMs When it arrived (ms since the epoch).
   * @param arrivalMonoMs When it arrived on a monotonic clock (`performance.now()`): intervals
   * between beats are measured on it when given.
   * @return A beat event, followed by the table when it is a downbeat; or a rejection.
   */
  frame(
    payload: Uint8Array,
    headers: HeadersLike | undefined,
    arrivalMs: number,
    arrivalMonoMs?: number,
  ): TapEvent[] {
    const verdict = judgeFrame(payload, headers, this.judgeContext);
    if (!verdict.ok) return [frameRejectedEvent(verdict.reason, payload.byteLength, arrivalMs)];
    const arrived: ArrivedFrame = { frame: verdict.frame, arrivalMs, arrivalMonoMs };
    const beat = beatEvent(arrived, verdict.source, verdict.hlcSkew, this.previous);
    this.previous = arrived;
    return verdict.frame.downbeat ? [beat, this.board.table(verdict.frame)] : [beat];
  }

  /**
   * Records a claim message's verdict.
   *
   * @example
   * session.claim(verdict, msg, Date.now());
   * @param verdict verifyStatus's verdict.
   * @param message The message's subject and headers.
   * @param arrivalMs When it arrived (ms since the epoch).
   * @return The claim event.
   */
  claim(
    verdict: StatusVerdict,
    message: { readonly subject: string; readonly headers?: HeadersLike },
    arrivalMs: number,
  ): TapEvent[] {
    const event = claimEvent(verdict, message, this.options.trustedAgents, arrivalMs);
    this.board.record(event);
    return [event];
  }
}
