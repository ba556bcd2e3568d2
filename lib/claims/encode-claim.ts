import type { StatusClaim } from '../protocol/status-claim';

const utf8 = new TextEncoder();

/**
 * Encodes a claim as UTF-8 JSON with its fields always in the order of docs/protocol.md section 5,
 * so that the same claim always gives the same bytes (the bytes are what gets signed).
 *
 * @example
 * encodeClaim(claim); // Uint8Array of '{"type":"backbeat.statusclaim.v1","cluster_id":…}'
 */
export function encodeClaim(claim: StatusClaim): Uint8Array {
  const ordered: StatusClaim = {
    type: claim.type,
    cluster_id: claim.cluster_id,
    agent_id: claim.agent_id,
    task_id: claim.task_id,
    beat_index: claim.beat_index,
    window_id: claim.window_id,
    state: claim.state,
    ...(claim.wait_for === undefined ? {} : { wait_for: claim.wait_for }),
    beats_left: claim.beats_left,
    progress: claim.progress,
    notes: claim.notes,
    hlc: claim.hlc,
  };
  return utf8.encode(JSON.stringify(ordered));
}
