/**
 * The client's health (`HealthStatus`): connection, last beat, drift, degradation, tempo.
 *
 * @example
 * ```ts
 * client.health$.subscribe((health: HealthStatus) => {
 *   if (health.localDegradation) log.warn({ reason: health.reason }, 'keeping time locally');
 * });
 * client.health().lastBeat; // -1 before any beat
 * ```
 */
export interface HealthStatus {
  /** Whether the NATS connection is up. */
  readonly connected: boolean;
  /** The last delivered beat index, -1 before any. */
  readonly lastBeat: number;
  /** When the last beat was delivered (wall clock), null before any. */
  readonly lastBeatTime: Date | null;
  /**
   * How late the last pulse frame arrived against the pulse's own wall-clock schedule (its
   * arrival minus `deadline_at − period`, ms, positive: late): network latency plus the offset
   * between the pulse host's wall clock and this one's. 0 before any pulse frame.
   *
   * It never moves a beat: beats follow the pulse's grid, learnt on this host's monotonic clock
   * from the earliest arrivals of recent frames (docs/protocol.md section 9), so frames held up
   * by the network or a busy event loop do not shift them, and synthetic beats during an
   * outage stay on it. A large steady value means the two wall clocks disagree (check NTP on
   * both hosts): claim ages and HLC stamps suffer, beats do not. A value that swings by more
   * than `jitterToleranceMs` means frames are held up on the way.
   */
  readonly timeDriftMs: number;
  /** Reconnections since start. */
  readonly reconnectCount: number;
  /** Whether the client is keeping time on its own (synthetic beats). */
  readonly localDegradation: boolean;
  /** The tempo followed now. */
  readonly tempoBpm: number;
  /**
   * Why the client is degraded or cannot reach NATS, in words to act on (e.g. `connected to
   * NATS but no pulse frame on backbeat.chorus-dev.beat for 3.1 s: is a pulse running for
   * cluster 'chorus-dev'? (check the cluster name)`); null when all is well.
   */
  readonly reason: string | null;
}

/** The fields of a {@link HealthStatus} whose changes `health$` reports. */
export type HealthKey = Pick<
  HealthStatus,
  'connected' | 'localDegradation' | 'reconnectCount' | 'tempoBpm'
>;

/** Whether two health values differ in what `health$` reports changes of. */
export function healthChanged(a: HealthKey, b: HealthKey): boolean {
  return (
    a.connected !== b.connected ||
    a.localDegradation !== b.localDegradation ||
    a.reconnectCount !== b.reconnectCount ||
    a.tempoBpm !== b.tempoBpm
  );
}
