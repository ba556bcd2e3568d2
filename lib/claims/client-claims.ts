import type { Observable } from 'rxjs';
import type { Beat } from '../beats/beat';
import type { ResolvedConfig } from '../config';
import { StatusPublisher } from '../transport/status-publisher';
import { ClaimFlow, registerClaimFlow } from './claim-flow';

/** What a client's claims need of it. */
export interface ClaimHooks {
  /** The client's HLC: ticked once per claim. */
  readonly tick: () => string;
  readonly currentBeat: () => Beat | null;
  readonly assertRunning: (what: string) => void;
  readonly noteError: (err: unknown, fallbackCode: string) => void;
}

/**
 * Builds a client's claim flow and the bounded publisher behind it, and registers the flow as
 * `client`'s for the claim operators.
 */
export function clientClaims(
  client: object,
  config: ResolvedConfig,
  beat$: Observable<Beat>,
  hooks: ClaimHooks,
): { claims: ClaimFlow; publisher: StatusPublisher } {
  const { logger } = config;
  const publisher = new StatusPublisher({
    delivery: config.statusDelivery,
    bufferSize: config.statusBufferSize,
    logger,
    // The link is the one source of connection state: the client's connection tells the publisher.
    followStatus: false,
  });
  const claims = new ClaimFlow({
    clusterId: config.clusterId,
    agentId: config.agentId,
    signingKey: config.signingKey,
    bufferSize: config.statusBufferSize,
    tick: hooks.tick,
    currentBeat: hooks.currentBeat,
    beat$,
    publisher,
    assertRunning: hooks.assertRunning,
    logger,
    onInvalid: (err) => hooks.noteError(err, 'STATUS_CLAIM_INVALID'),
  });
  registerClaimFlow(client, claims);
  return { claims, publisher };
}
