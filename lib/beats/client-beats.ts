import type { SchedulerLike } from 'rxjs';
import type { HybridLogicalClock } from '../clock/hlc';
import type { ResolvedConfig } from '../config';
import {
  registerCountedBeatSource,
  registerSharedBeatSource,
  SharedBudgetIndex,
} from './budget-index';
import { BeatEngine } from './engine';
import { FrameIntake } from './frame-intake';

/** A client's beats: the frame intake, the engine behind it, and the budgets' index. */
export interface ClientBeats {
  readonly engine: BeatEngine;
  readonly intake: FrameIntake;
  /** Sees each beat before any user does; `withinBeats` on `beat$`/`downbeat$` counts by it. */
  readonly budgetIndex: SharedBudgetIndex;
}

/** The client's clocks, as the beats read them. */
export interface BeatClocks {
  readonly clock: HybridLogicalClock;
  readonly scheduler?: SchedulerLike;
  readonly monoNow: () => number;
  /** The wall clock as the monotonic clock carries it. */
  readonly carriedNow: () => number;
}

/**
 * Builds a client's beats from its config.
 *
 * @param afterDelivery Called once every subscriber has had a beat.
 */
export function clientBeats(
  config: ResolvedConfig,
  clocks: BeatClocks,
  afterDelivery: () => void,
): ClientBeats {
  const { clusterId, agentId } = config;
  const budgetIndex = new SharedBudgetIndex();
  const engine = new BeatEngine({
    clusterId,
    agentId,
    jitterToleranceMs: config.jitterToleranceMs,
    beatsPerBar: config.beatsPerBar,
    fallbackTempoBpm: config.fallbackTempoBpm,
    clock: clocks.clock,
    scheduler: clocks.scheduler,
    now: clocks.monoNow,
    // Frames' lateness (staleness, timeDriftMs) is read against the carried wall clock, so a
    // local wall-clock step undone within a minute does not make fresh frames look stale.
    wallNow: clocks.carriedNow,
    // Plain calls, not subscriptions: the budgets see each beat before any user does, and the
    // health refresh waits until every user has had it.
    leadObserver: budgetIndex,
    afterDelivery,
  });
  const intake = new FrameIntake(
    engine,
    {
      clusterId,
      acceptLegacyFrames: config.acceptLegacyFrames,
      trustedPulseKeys: config.trustedPulseKeys,
      maxClockSkewMs: config.maxClockSkewMs,
      physicalNow: clocks.carriedNow,
      legacy: () => {
        const { beatsPerBar, tempoBpm } = engine.state;
        return { beatsPerBar, tempoBpm, hlc: clocks.clock.tick() };
      },
    },
    config.logger,
  );
  registerSharedBeatSource(engine.beats$, budgetIndex);
  registerCountedBeatSource(engine.downbeats$, budgetIndex);
  return { engine, intake, budgetIndex };
}
