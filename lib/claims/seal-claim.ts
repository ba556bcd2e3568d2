import { encodeBase64 } from '../crypto/base64';
import type { SigningKey } from '../crypto/keys';
import { signBytes } from '../crypto/signature';
import { StatusClaimValidationError } from '../errors';
import {
  STATUS_CLAIM_TYPE,
  type StatusClaim,
  type ValidStatusClaimInput,
} from '../protocol/status-claim';
import { statusSubject } from '../protocol/subjects';
import { MAX_PAYLOAD_BYTES } from '../protocol/text';
import { CLAIM_HEADERS, claimMessageId, type ClaimHeaders } from './claim-headers';
import { encodeClaim } from './encode-claim';

/** What the SDK fills into a claim: who sends it, at which beat, at which clock stamp. */
export interface ClaimContext {
  /** The cluster id (a NATS token; the client has checked it). */
  readonly clusterId: string;
  /** The agent id (a NATS token; the client has checked it). */
  readonly agentId: string;
  /** Filled when the input's `taskId` is empty or absent; see `makeDefaultTaskId`. */
  readonly defaultTaskId: string;
  /** The client's current beat: a delivered `Beat` will do. */
  readonly beat: { readonly beat_index: number; readonly window_id: string };
  /** A fresh tick of the agent's HLC, taken for this claim. */
  readonly hlc: string;
  /** Signs the claim when set. */
  readonly signingKey?: SigningKey;
}

/** A claim ready to publish: its subject, the claim as sent, its exact bytes and headers. */
export interface SealedClaim {
  /** `backbeat.<cluster>.status.<agent>`. */
  readonly subject: string;
  /** The claim as sent (frozen). */
  readonly claim: Readonly<StatusClaim>;
  /** The payload, encoded once: the bytes signed are the bytes sent. */
  readonly payload: Uint8Array;
  /** `x-agent-id`, `x-window-id`, `x-hlc`, `Nats-Msg-Id`, and when signed `x-signature`, `x-public-key`. */
  readonly headers: ClaimHeaders;
}

/**
 * Fills a validated input into a claim, encodes it once, refuses it when it is over 4096 bytes,
 * signs those exact bytes, and names the headers (docs/protocol.md section 5).
 *
 * @example
 * const valid = validateClaimInput(input); // before taking a tick: invalid input costs none
 * const sealed = sealClaim(valid, { clusterId, agentId, defaultTaskId, beat, hlc: clock.tick(), signingKey });
 * nc.publish(sealed.subject, sealed.payload, { headers: toMsgHdrs(sealed.headers) });
 * @param valid An input that `validateClaimInput` returned.
 * @throws StatusClaimValidationError (path `[]`, the whole claim) when the encoded claim is over
 * 4096 bytes; the tick in `ctx.hlc` is then simply never used.
 */
export function sealClaim(valid: ValidStatusClaimInput, ctx: ClaimContext): SealedClaim {
  const claim: StatusClaim = {
    type: STATUS_CLAIM_TYPE,
    cluster_id: ctx.clusterId,
    agent_id: ctx.agentId,
    task_id: valid.taskId || ctx.defaultTaskId,
    beat_index: ctx.beat.beat_index,
    window_id: ctx.beat.window_id,
    state: valid.state,
    ...(valid.waitFor === undefined
      ? {}
      : { wait_for: Object.freeze([...valid.waitFor]) as string[] }),
    beats_left: valid.beatsLeft,
    progress: valid.progress,
    notes: valid.notes,
    hlc: ctx.hlc,
  };
  const payload = encodeClaim(claim);
  if (payload.byteLength > MAX_PAYLOAD_BYTES) {
    throw new StatusClaimValidationError([
      {
        path: [],
        message: `the encoded claim is ${payload.byteLength} bytes, over the ${MAX_PAYLOAD_BYTES}-byte limit (shorten notes, waitFor or taskId)`,
      },
    ]);
  }
  const headers: Record<string, string> = {
    [CLAIM_HEADERS.agentId]: claim.agent_id,
    [CLAIM_HEADERS.windowId]: claim.window_id,
    [CLAIM_HEADERS.hlc]: claim.hlc,
    [CLAIM_HEADERS.msgId]: claimMessageId(claim.agent_id, claim.hlc),
  };
  if (ctx.signingKey !== undefined) {
    headers[CLAIM_HEADERS.signature] = encodeBase64(signBytes(ctx.signingKey, payload));
    headers[CLAIM_HEADERS.publicKey] = ctx.signingKey.publicKeyBase64;
  }
  return {
    subject: statusSubject(ctx.clusterId, ctx.agentId),
    claim: Object.freeze(claim),
    payload,
    headers: Object.freeze(headers),
  };
}
