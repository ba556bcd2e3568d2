import type { Logger } from '../config';

/**
 * A logger that says each kind of trouble at most once per `intervalMs`, then how many of it it
 * held back: bad input can arrive ten times a second, and a log must stay readable.
 */
export class RateLimitedLog {
  private readonly lastSaid = new Map<string, { at: number; held: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
    // Monotonic: with the wall clock, a step back would silence each kind for the step's length.
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Warn about `key` unless it was said within the interval; `details` go in the log object. */
  warn(key: string, msg: string, details: Record<string, unknown> = {}): void {
    const now = this.now();
    const last = this.lastSaid.get(key);
    if (last && now - last.at < this.intervalMs) {
      last.held++;
      return;
    }
    const held = last?.held ?? 0;
    this.lastSaid.set(key, { at: now, held: 0 });
    this.logger.warn(held > 0 ? { ...details, key, suppressed: held } : { ...details, key }, msg);
  }
}
