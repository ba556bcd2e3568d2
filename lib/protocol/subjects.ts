/** docs/protocol.md section 2: ids are NATS tokens, and the subjects built from them. */

/** Cluster, agent and pulse ids: `^[A-Za-z0-9_-]{1,128}$`. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Whether `value` is a valid cluster, agent or pulse id. */
export function isToken(value: unknown): value is string {
  return typeof value === 'string' && TOKEN_PATTERN.test(value);
}

/**
 * `backbeat.<cluster>.beat`: the subject of the pulse's frames.
 *
 * @example
 * ```ts
 * beatSubject('chorus-dev'); // 'backbeat.chorus-dev.beat'
 * ```
 * @param clusterId The cluster id (a NATS token).
 */
export function beatSubject(clusterId: string): string {
  return `backbeat.${clusterId}.beat`;
}

/**
 * `backbeat.<cluster>.status.<agent>`: the subject of one agent's claims.
 *
 * @example
 * ```ts
 * statusSubject('chorus-dev', 'my-service'); // 'backbeat.chorus-dev.status.my-service'
 * ```
 * @param clusterId The cluster id (a NATS token).
 * @param agentId The agent id (a NATS token).
 */
export function statusSubject(clusterId: string, agentId: string): string {
  return `backbeat.${clusterId}.status.${agentId}`;
}

/**
 * `backbeat.<cluster>.status.*`: the wildcard of every agent's claims, for observers.
 *
 * @example
 * ```ts
 * nc.subscribe(statusWildcard('chorus-dev')); // 'backbeat.chorus-dev.status.*'
 * ```
 * @param clusterId The cluster id (a NATS token).
 */
export function statusWildcard(clusterId: string): string {
  return `backbeat.${clusterId}.status.*`;
}

/** `backbeat.<cluster>.status.>`: the subjects a JetStream status stream captures. */
export function statusStreamSubjects(clusterId: string): string {
  return `backbeat.${clusterId}.status.>`;
}

/** `BACKBEAT_STATUS_<cluster>`: the JetStream stream that stores a cluster's claims. */
export function statusStreamName(clusterId: string): string {
  return `BACKBEAT_STATUS_${clusterId}`;
}

/**
 * The cluster and agent a status subject names, or null when it is not of the form
 * `backbeat.<cluster>.status.<agent>` with token ids.
 */
export function parseStatusSubject(subject: string): { clusterId: string; agentId: string } | null {
  const parts = subject.split('.');
  if (parts.length !== 4 || parts[0] !== 'backbeat' || parts[2] !== 'status') return null;
  const [, clusterId, , agentId] = parts as [string, string, string, string];
  return isToken(clusterId) && isToken(agentId) ? { clusterId, agentId } : null;
}
