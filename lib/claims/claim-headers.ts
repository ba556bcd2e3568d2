/**
 * The header names of a claim message (docs/protocol.md section 5), spelled exactly as writers must
 * spell them; readers compare them without regard to case.
 */
export const CLAIM_HEADERS = {
  agentId: 'x-agent-id',
  windowId: 'x-window-id',
  hlc: 'x-hlc',
  msgId: 'Nats-Msg-Id',
  signature: 'x-signature',
  publicKey: 'x-public-key',
} as const;

/**
 * The headers a claim message carries, by name (see {@link CLAIM_HEADERS}): the four routing
 * headers, and two more when signed.
 */
export type ClaimHeaders = Readonly<Record<string, string>>;

/**
 * The JetStream de-duplication id of a claim: `agent_id + ':' + hlc`.
 *
 * @example
 * claimMessageId('agent-1', '018bcfe56800:0000:agent-1'); // 'agent-1:018bcfe56800:0000:agent-1'
 * @return The `Nats-Msg-Id` header value.
 */
export function claimMessageId(agentId: string, hlc: string): string {
  return `${agentId}:${hlc}`;
}
