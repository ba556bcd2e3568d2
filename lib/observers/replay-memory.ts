/**
 * The observer's replay memory (docs/protocol.md section 5): one stamp per agent, forgotten once the
 * `stale` rule alone refuses everything the stamp would refuse, so it stays bounded.
 */

/** What the memory keeps of an agent's last accepted claim. */
export interface AcceptedStamp {
  /** The claim's `hlc` text; fixed-width, so string order is stamp order. */
  readonly hlc: string;
  /** The physical part `l` of that stamp, in ms since the epoch. */
  readonly physicalMs: number;
  /** A digest of the claim's exact payload bytes, to tell a redelivery from a replay. */
  readonly digest: string;
}

/** Agents one observer remembers at most, by default: beyond it the least recently heard go. */
export const DEFAULT_MAX_AGENTS = 100_000;

/** Options of a {@link ReplayMemory}. */
export interface ReplayMemoryOptions {
  /** Agents remembered at most; the least recently heard is forgotten for a newcomer. */
  readonly maxAgents?: number;
  /** Told each agent forgotten for the cap (not for silence), with the count so far. */
  readonly onEvict?: (agentKey: string, evicted: number) => void;
  /**
   * The observer's clock (ms since the epoch): given, a timer forgets silent agents while any
   * is remembered, so memory is released with time even when no claim comes. The timer never
   * keeps the process alive; {@link close} stops it.
   */
  readonly sweepNow?: () => number;
}

/**
 * The last accepted stamp of each agent, oldest refresh first.
 *
 * An agent is forgotten once its last stamp is more than `maxClaimAgeMs` behind the observer's
 * clock: from then on `stale` (checked before `duplicate` and `replay`) refuses every claim
 * whose stamp is not newer, so forgetting changes no verdict. Eviction walks the Map from its
 * front (the least recently accepted agent) and stops at the first agent still remembered;
 * since an accepted stamp is at most the maximum skew ahead of the clock, every agent is gone
 * at most `maxClaimAgeMs + maxClockSkewMs` after its last accepted claim (plus one sweep
 * interval when no claim comes).
 *
 * Bounded in count too: beyond `maxAgents` the least recently heard agent is forgotten at once
 * and counted. That one is then open to a replay of its claims younger than the maximum claim
 * age: the price of a bound when more agents speak than the cap allows.
 *
 * @example
 * const memory = new ReplayMemory(300_000, { maxAgents: 10_000, sweepNow: Date.now });
 * memory.remember('chorus-dev my-service', { hlc, physicalMs, digest }, Date.now());
 * memory.last('chorus-dev my-service')?.hlc; // hlc
 * memory.close();
 */
export class ReplayMemory {
  private readonly stamps = new Map<string, AcceptedStamp>();
  private readonly maxAgents: number;
  private evictedCount = 0;
  private sweepTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  /**
   * @param maxClaimAgeMs The observer's maximum claim age (ms).
   * @param options The cap, who hears of evictions, and the clock of the timed sweep.
   */
  constructor(
    private readonly maxClaimAgeMs: number,
    private readonly options: ReplayMemoryOptions = {},
  ) {
    this.maxAgents = options.maxAgents ?? DEFAULT_MAX_AGENTS;
  }

  /** How many agents are remembered (for tests and metrics). */
  get size(): number {
    return this.stamps.size;
  }

  /** How many agents were forgotten for the cap. */
  get evicted(): number {
    return this.evictedCount;
  }

  /** The last accepted stamp of `agentKey` (an agent qualified by its cluster), if remembered. */
  last(agentKey: string): AcceptedStamp | undefined {
    return this.stamps.get(agentKey);
  }

  /**
   * Records an accepted claim, moves its agent to the back, and forgets silent agents (and the
   * least recently heard one beyond the cap).
   *
   * @param agentKey The agent (qualified by its cluster).
   * @param nowMs The observer's clock, ms since the epoch.
   */
  remember(agentKey: string, stamp: AcceptedStamp, nowMs: number): void {
    this.stamps.delete(agentKey);
    this.stamps.set(agentKey, stamp);
    this.forgetSilent(nowMs);
    if (this.stamps.size > this.maxAgents) this.evictOldest();
    this.armSweep();
  }

  /**
   * Forgets, from the front, agents whose last stamp is older than the maximum claim age.
   *
   * @param nowMs The observer's clock, ms since the epoch.
   */
  forgetSilent(nowMs: number): void {
    for (const [agentKey, stamp] of this.stamps) {
      if (!(nowMs - stamp.physicalMs > this.maxClaimAgeMs)) return;
      this.stamps.delete(agentKey);
    }
  }

  /** Stops the timed sweep and forgets every agent (the observer's subscription ended). */
  close(): void {
    this.closed = true;
    if (this.sweepTimer !== null) clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    this.stamps.clear();
  }

  private evictOldest(): void {
    const { value: oldest } = this.stamps.keys().next();
    if (oldest === undefined) return;
    this.stamps.delete(oldest);
    this.evictedCount++;
    try {
      this.options.onEvict?.(oldest, this.evictedCount);
    } catch {
      // A user function: it must not stop the observer.
    }
  }

  /** While any agent is remembered, a timer forgets silent ones; none runs for an empty memory. */
  private armSweep(): void {
    const now = this.options.sweepNow;
    if (now === undefined || this.sweepTimer !== null || this.closed || this.stamps.size === 0) {
      return;
    }
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = null;
      try {
        this.forgetSilent(now());
      } catch {
        // A broken clock forgets nothing this time; the cap still bounds the memory.
      }
      this.armSweep();
    }, sweepIntervalMs(this.maxClaimAgeMs));
    // Node: an observer's sweep alone must not keep the process alive (browsers have no unref).
    (this.sweepTimer as { unref?: () => void }).unref?.();
  }
}

/** Half the maximum claim age, from 100 ms to one minute: memory goes within age + interval. */
export function sweepIntervalMs(maxClaimAgeMs: number): number {
  return Math.min(Math.max(maxClaimAgeMs / 2, 100), 60_000);
}
