import { randomHex } from '../crypto/random';

/**
 * Makes a client's default task id (docs/protocol.md section 5): `task-` followed by 16 random
 * lowercase hex digits. A client makes one and fills it into every claim whose `taskId` is
 * empty or absent.
 *
 * @example
 * makeDefaultTaskId(); // e.g. 'task-3f9c0a1b2d4e5f60'
 * @return A fresh task id, from the system's secure random source.
 */
export function makeDefaultTaskId(): string {
  return `task-${randomHex(8)}`;
}
