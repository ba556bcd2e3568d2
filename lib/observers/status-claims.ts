import { defer, takeUntil, type Observable } from 'rxjs';
import type { ClientConnection } from '../lifecycle/connection';
import {
  verifyStatus,
  type StatusVerdict,
  type VerifyStatusOptions,
} from '../operators/verify-status';
import { statusClaimMessages, type ClaimDelivery } from '../transport/claim-messages';

/**
 * Options of `client.statusClaims$()`: those of `verifyStatus`, and where claims come from.
 *
 * @example
 * ```ts
 * client.statusClaims$({ trustedKeys: { 'agent-a': publicKeyBase64 }, deliver: 'last-per-agent' });
 * ```
 */
export interface StatusClaimsOptions extends VerifyStatusOptions {
  /**
   * `'new'` (default): claims published from now on. `'last-per-agent'`: on a JetStream
   * cluster, first each agent's last stored claim, then new ones.
   */
  deliver?: ClaimDelivery;
}

/** `client.statusClaims$(options)`: the cluster's claims with their verdicts, until stop(). */
export function clientStatusClaims(
  connection: Pick<ClientConnection, 'assertNotStopped' | 'nextConnection' | 'stopping$'>,
  clusterId: string,
  carriedNow: () => number,
  options: StatusClaimsOptions,
): Observable<StatusVerdict> {
  const { deliver = 'new', ...verifyOptions } = options;
  // The client's observer judges by the client's own carried clock unless told otherwise.
  const verify = verifyStatus({ physicalNow: carriedNow, ...verifyOptions });
  return defer(() => {
    connection.assertNotStopped('statusClaims$');
    return statusClaimMessages(connection.nextConnection(), clusterId, deliver);
  }).pipe(takeUntil(connection.stopping$), verify);
}
