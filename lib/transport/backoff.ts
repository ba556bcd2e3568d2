/** How much a backoff delay may stray either way, so that many clients do not dial in step. */
export const BACKOFF_JITTER = 0.2;

/**
 * The k-th backoff delay (k from 0): `min(base · 2^k, max)`, then ±20 % by `random()`.
 *
 * @param attempt k, the number of failed dials before this wait (0 for the first wait).
 * @param baseMs The first delay.
 * @param maxMs The cap, applied before the jitter.
 * @param random A number in [0, 1); `Math.random` by default.
 * @return The delay in milliseconds.
 */
export function backoffDelayMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  // 2^k overflows to Infinity for large k; Math.min keeps the cap.
  const uncapped = baseMs * 2 ** Math.max(0, attempt);
  const capped = Math.min(uncapped, maxMs);
  return capped * (1 - BACKOFF_JITTER + 2 * BACKOFF_JITTER * random());
}

/**
 * A backoff whose k-th delay is drawn once and then kept: nats.js asks its
 * `reconnectDelayHandler` on every pass of its dial loop (also passes that only wait), so a
 * delay drawn afresh on each call would creep towards the top of its jitter range. Only the
 * delay of the latest k is kept (k only grows until `reset()`): the memo is one entry, however
 * long an outage lasts.
 */
export class Backoff {
  private drawn: { attempt: number; delayMs: number } | null = null;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before dial `attempt + 1`, the same on every call until another k or `reset()`. */
  delayMs(attempt: number): number {
    if (this.drawn?.attempt !== attempt) {
      const delayMs = backoffDelayMs(attempt, this.baseMs, this.maxMs, this.random);
      this.drawn = { attempt, delayMs };
    }
    return this.drawn.delayMs;
  }

  /** How many delays are remembered (at most one). */
  get remembered(): number {
    return this.drawn === null ? 0 : 1;
  }

  /** Forget the drawn delay: the next outage starts from the base again. */
  reset(): void {
    this.drawn = null;
  }
}
