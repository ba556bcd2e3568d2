/**
 * The observer's replay memory (PROTOCOL.md section 5): one stamp per agent, forgotten once the
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

/**
 * The last accepted stamp of each agent, oldest refresh first.
 *
 * An agent is forgotten once its last stamp is more than `maxClaimAgeMs` behind the observer's
 * clock: from then on `stale` (checked before `duplicate` and `replay`) refuses every claim
 * whose stamp is not newer, so forgetting changes no verdict. Eviction walks the Map from its
 * front (the least recently accepted agent) and stops at the first agent still remembered;
 * since an accepted stamp is at most the maximum skew ahead of the clock, every agent is gone
 * at most `maxClaimAgeMs + maxClockSkewMs` after its last accepted claim.
 *
 * @example
 * const memory = new ReplayMemory(300_000);
 * memory.remember('chorus-dev my-service', { hlc, physicalMs, digest }, Date.now());
 * memory.last('chorus-dev my-service')?.hlc; // hlc
 */
export class ReplayMemory {
  private readonly stamps = new Map<string, AcceptedStamp>();

  /** @param maxClaimAgeMs The observer's maximum claim age (ms). */
  constructor(private readonly maxClaimAgeMs: number) {}

  /** How many agents are remembered (for tests and metrics). */
  get size(): number {
    return this.stamps.size;
  }

  /**
   * The last accepted stamp of an agent.
   *
   * @param agentKey The agent (qualified by its cluster).
   * @return Its stamp, or undefined when none is remembered.
   */
  last(agentKey: string): AcceptedStamp | undefined {
    return this.stamps.get(agentKey);
  }

  /**
   * Records an accepted claim, moves its agent to the back, and forgets silent agents.
   *
   * @param agentKey The agent (qualified by its cluster).
   * @param stamp The accepted claim's stamp.
   * @param nowMs The observer's clock, ms since the epoch.
   */
  remember(agentKey: string, stamp: AcceptedStamp, nowMs: number): void {
    this.stamps.delete(agentKey);
    this.stamps.set(agentKey, stamp);
    this.forgetSilent(nowMs);
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
}
