/**
 * A summary of recent samples, as plain numbers: the count of all samples, and the mean,
 * median, 99th percentile and maximum of the recent ones (all 0 before any).
 *
 * @example
 * ```ts
 * const { p50, p99, max }: SummarySnapshot = client.metrics().beats.jitterMs;
 * if (p99 > 50) log.warn({ p50, p99, max }, 'beats arrive late');
 * ```
 */
export interface SummarySnapshot {
  /** Samples recorded since start (all of them, not only the recent ones). */
  count: number;
  /** Mean of the recent samples. */
  mean: number;
  /** Median of the recent samples. */
  p50: number;
  /** 99th percentile of the recent samples. */
  p99: number;
  /** Largest recent sample. */
  max: number;
}

/**
 * Keeps the last `capacity` samples in a ring (fixed memory however long the client runs) and
 * counts all of them; percentiles are computed only when a snapshot is asked for.
 */
export class RecentSummary {
  private readonly samples: Float64Array;
  private next = 0;
  private filled = 0;
  private total = 0;

  constructor(capacity = 1024) {
    this.samples = new Float64Array(capacity);
  }

  record(value: number): void {
    this.samples[this.next] = value;
    this.next = (this.next + 1) % this.samples.length;
    if (this.filled < this.samples.length) this.filled++;
    this.total++;
  }

  snapshot(): SummarySnapshot {
    if (this.filled === 0) return { count: this.total, mean: 0, p50: 0, p99: 0, max: 0 };
    const sorted = this.samples.slice(0, this.filled).sort();
    let sum = 0;
    for (const value of sorted) sum += value;
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    return {
      count: this.total,
      mean: sum / sorted.length,
      p50: at(0.5),
      p99: at(0.99),
      max: sorted[sorted.length - 1],
    };
  }
}
