import type { HeadersLike } from '../protocol/headers';
import { FRAME_REJECT_REASONS, judgeFrame, type JudgeContext } from '../protocol/judge';
import type { Logger } from '../observability/logger';
import { RateLimitedLog } from '../observability/logger';
import { RecentSummary } from '../observability/summary';
import { BEAT_ENGINE_REJECT_REASONS, type BeatEngine, type BeatEngineRejectReason } from './engine';

/**
 * Every reason a payload on the beat subject is not delivered or not merged, to its count: the
 * judge's {@link FRAME_REJECT_REASONS}, `'other-pulse'` (a frame of a pulse the client does not
 * follow), `'stale-frame'` (a frame of the past: held through a partition or queued while the
 * event loop was blocked, it came after its successor was due) and `'hlc-skew'` (an accepted
 * frame whose stamp was too far ahead to merge).
 *
 * @example
 * ```ts
 * const rejected: Readonly<RejectedCounts> = client.metrics().beats.rejected;
 * if (rejected['bad-signature'] > 0) alert('forged beat frames on the bus');
 * ```
 */
export type RejectedCounts = Record<
  (typeof FRAME_REJECT_REASONS)[number] | 'other-pulse' | 'stale-frame' | 'hlc-skew',
  number
>;

const ENGINE_REJECT_MESSAGES: Readonly<Record<BeatEngineRejectReason, string>> = {
  'other-pulse': 'backbeat: beat frame of another pulse rejected',
  'stale-frame':
    'backbeat: stale beat frame dropped (it came after its successor was due: held by the network or a busy event loop)',
};

/**
 * The beat path from bytes to the engine: judges each payload received on the beat subject,
 * counts and logs (rate-limited per reason) what it refuses, and gives the engine what it
 * accepts. Bad input never throws out of here.
 */
export class FrameIntake {
  /** Payloads received on the beat subject. */
  received = 0;
  /** Counts by reason (docs/protocol.md sections 3 and 9). */
  readonly rejected: RejectedCounts = Object.fromEntries(
    [...FRAME_REJECT_REASONS, ...BEAT_ENGINE_REJECT_REASONS, 'hlc-skew'].map((reason) => [
      reason,
      0,
    ]),
  ) as RejectedCounts;
  /** How late accepted frames came against the engine's schedule (ms). */
  readonly jitterMs = new RecentSummary();
  private readonly log: RateLimitedLog;
  private warnedLegacy = false;

  constructor(
    private readonly engine: BeatEngine,
    private readonly context: JudgeContext,
    private readonly logger: Logger,
  ) {
    this.log = new RateLimitedLog(logger);
  }

  /** Judge one payload from the beat subject and pass it on. */
  receive(data: Uint8Array, headers: HeadersLike | undefined): void {
    this.received++;
    const verdict = judgeFrame(data, headers, this.context);
    if (!verdict.ok) {
      this.rejected[verdict.reason]++;
      this.log.warn(verdict.reason, 'backbeat: beat frame rejected', { reason: verdict.reason });
      return;
    }
    if (verdict.hlcSkew) {
      this.rejected['hlc-skew']++;
      this.log.warn('hlc-skew', 'backbeat: beat frame hlc too far ahead, not merged', {
        reason: 'hlc-skew',
      });
    }
    if (verdict.source === 'legacy' && !this.warnedLegacy) {
      this.warnedLegacy = true;
      this.logger.warn(
        { reason: 'legacy-frame' },
        'backbeat: legacy {bar, beat} frames received; migrate the pulse to backbeat.beatframe.v1',
      );
    }
    const outcome = this.engine.frame(verdict);
    if (outcome.outcome === 'rejected') {
      this.rejected[outcome.reason]++;
      this.log.warn(outcome.reason, ENGINE_REJECT_MESSAGES[outcome.reason], {
        reason: outcome.reason,
        pulseId: verdict.frame.pulse_id,
        beatIndex: verdict.frame.beat_index,
      });
    } else if (outcome.outcome !== 'stopped' && outcome.lateMs !== null) {
      this.jitterMs.record(outcome.lateMs);
    }
  }
}
