/**
 * The client's health (API.md `HealthStatus`): connection, last beat, drift, degradation, tempo.
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
   * How late pulse frames arrive against the pulse's own `deadline_at` schedule (ms, positive:
   * late); 0 before any pulse frame.
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
