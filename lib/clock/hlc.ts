/**
 * The hybrid logical clock of docs/protocol.md section 7 (Kulkarni et al., 2014): stamps that follow
 * wall-clock time yet never go back, and order every event after the stamps it has seen.
 */
import { isToken } from '../protocol/subjects';
import { HLC_PATTERN } from '../protocol/text';
import { carriedWallClock } from './carried-wall-clock';

/** Largest `l` the 12-hex-digit text form can hold: 2^48−1 ms (about the year 10889). */
export const MAX_HLC_PHYSICAL = 0xffff_ffff_ffff;

/** Largest logical counter `c` the 4-hex-digit text form can hold. */
export const MAX_HLC_COUNTER = 0xffff;

/** A stamp's parts: `l` (ms), the counter `c`, and the node that made it. */
export interface HlcStamp {
  readonly l: number;
  readonly c: number;
  readonly node: string;
}

/**
 * Options of {@link HybridLogicalClock}: its wall clock and the skew it accepts.
 *
 * @example
 * ```ts
 * const clock = new HybridLogicalClock('agent-1', { physicalNow: () => fakeNow, maxSkewMs: 5000 });
 * ```
 */
export interface HybridLogicalClockOptions {
  /**
   * The wall clock in ms since the epoch, used as given. Default: `Date.now` as the monotonic
   * clock carries it ({@link carriedWallClock}), so that a wall-clock step undone within a
   * minute never reaches a stamp.
   */
  readonly physicalNow?: () => number;
  /** Stamps further ahead of the wall clock than this (ms) are rejected. Default 60000. */
  readonly maxSkewMs?: number;
}

/**
 * Parses a stamp's text form.
 *
 * @example
 * parseHlc('018bcfe56800:0001:agent-1'); // { l: 1700000000000, c: 1, node: 'agent-1' }
 * parseHlc('yesterday'); // null
 * @param text A stamp, `^([0-9a-f]{12}):([0-9a-f]{4}):([A-Za-z0-9_-]{1,128})$`.
 * @return Its parts, or null when it is not a well-formed stamp.
 */
export function parseHlc(text: string): HlcStamp | null {
  if (typeof text !== 'string') return null;
  const match = HLC_PATTERN.exec(text);
  if (match === null) return null;
  const [, l, c, node] = match as unknown as [string, string, string, string];
  return { l: parseInt(l, 16), c: parseInt(c, 16), node };
}

/**
 * The physical part `l` of a stamp: its wall-clock time in ms since the epoch.
 *
 * @example
 * hlcPhysicalMs('018bcfe56800:0001:agent-1'); // 1700000000000
 * @param text A stamp.
 * @return `l`, or null when `text` is not a well-formed stamp.
 */
export function hlcPhysicalMs(text: string): number | null {
  return parseHlc(text)?.l ?? null;
}

/**
 * The text form of a stamp: `l` as 12 lowercase hex digits, `c` as 4, then the node id.
 *
 * @example
 * formatHlc(1700000000000, 1, 'agent-1'); // '018bcfe56800:0001:agent-1'
 * @param l Physical part, 0 to 2^48−1.
 * @param c Counter, 0 to 0xffff.
 * @param node Node id (a NATS token).
 * @return The stamp's text.
 */
export function formatHlc(l: number, c: number, node: string): string {
  return `${l.toString(16).padStart(12, '0')}:${c.toString(16).padStart(4, '0')}:${node}`;
}

/**
 * A hybrid logical clock for one node: `tick()` stamps a local or send event, `receive()` merges
 * a stamp from a message, `current()` reads the last stamp.
 *
 * @example
 * const clock = new HybridLogicalClock('agent-1');
 * const stamp = clock.tick(); // e.g. '018bcfe56800:0000:agent-1'
 * clock.receive('018bcfe56828:0007:pulse'); // '018bcfe56828:0008:agent-1'
 */
export class HybridLogicalClock {
  private readonly physicalNow: () => number;
  private readonly maxSkewMs: number;
  private l = 0;
  private c = 0;
  private text: string;

  /**
   * @param nodeId This node's id (the agent id, or the pulse id): a NATS token.
   * @param options The wall clock and the maximum skew accepted from other nodes.
   * @throws RangeError when `nodeId` is not a token or `maxSkewMs` is negative or not a number.
   */
  constructor(
    readonly nodeId: string,
    options: HybridLogicalClockOptions = {},
  ) {
    if (!isToken(nodeId)) {
      throw new RangeError(`nodeId must be 1 to 128 of A-Z a-z 0-9 _ -, got ${String(nodeId)}`);
    }
    const { physicalNow = carriedWallClock(), maxSkewMs = 60000 } = options;
    if (typeof maxSkewMs !== 'number' || Number.isNaN(maxSkewMs) || maxSkewMs < 0) {
      throw new RangeError(`maxSkewMs must be a number ≥ 0, got ${String(maxSkewMs)}`);
    }
    this.physicalNow = physicalNow;
    this.maxSkewMs = maxSkewMs;
    this.text = formatHlc(0, 0, nodeId);
  }

  /**
   * Stamps a local or send event.
   *
   * @example
   * ```ts
   * const clock = new HybridLogicalClock('agent-1', { physicalNow: () => 1700000000000 });
   * clock.tick(); // '018bcfe56800:0000:agent-1'
   * clock.tick(); // '018bcfe56800:0001:agent-1' (same ms: the counter grows)
   * ```
   * @return The new stamp's text.
   * @throws RangeError in the (unreachable before the year 10889) case where the stamp cannot
   * grow any more.
   */
  tick(): string {
    const pt = this.wallClock();
    const l = Math.max(this.l, pt);
    const next = this.advance(l, l === this.l ? this.c + 1 : 0);
    if (next === null) throw new RangeError('HLC exhausted: l and c are at their maximum');
    return this.commit(next.l, next.c);
  }

  /**
   * Merges the stamp of a received message.
   *
   * @example
   * ```ts
   * const clock = new HybridLogicalClock('agent-1', { physicalNow: () => 1700000000000 });
   * clock.receive('018bcfe56828:0007:pulse'); // '018bcfe56828:0008:agent-1'
   * clock.receive('not a stamp'); // null (the clock is unchanged)
   * ```
   * @param stamp The message's stamp text.
   * @return The new stamp's text, or null, leaving the clock as it was, when `stamp` is malformed
   * or more than `maxSkewMs` ahead of the wall clock.
   */
  receive(stamp: string): string | null {
    const message = parseHlc(stamp);
    if (message === null) return null;
    const pt = this.wallClock();
    if (message.l - pt > this.maxSkewMs) return null;
    const l = Math.max(this.l, message.l, pt);
    let c: number;
    if (l === this.l && l === message.l) c = Math.max(this.c, message.c) + 1;
    else if (l === this.l) c = this.c + 1;
    else if (l === message.l) c = message.c + 1;
    else c = 0;
    const next = this.advance(l, c);
    return next === null ? null : this.commit(next.l, next.c);
  }

  /**
   * The last stamp, without advancing the clock.
   *
   * @example
   * ```ts
   * const clock = new HybridLogicalClock('agent-1');
   * clock.current(); // '000000000000:0000:agent-1'
   * const stamp = clock.tick();
   * clock.current() === stamp; // true
   * ```
   * @return Its text; before any event, the `(0, 0)` stamp.
   */
  current(): string {
    return this.text;
  }

  /** The wall clock as whole ms within the range the text form can hold. */
  private wallClock(): number {
    const pt = Math.floor(this.physicalNow());
    // A broken wall clock (NaN, negative) must not move the stamp: the counter carries on.
    if (!(pt > 0)) return 0;
    return Math.min(pt, MAX_HLC_PHYSICAL);
  }

  /** Carries a counter overflow into `l`; null when even `l` cannot grow. */
  private advance(l: number, c: number): { l: number; c: number } | null {
    if (c <= MAX_HLC_COUNTER) return { l, c };
    if (l >= MAX_HLC_PHYSICAL) return null;
    return { l: l + 1, c: 0 };
  }

  private commit(l: number, c: number): string {
    this.l = l;
    this.c = c;
    this.text = formatHlc(l, c, this.nodeId);
    return this.text;
  }
}
