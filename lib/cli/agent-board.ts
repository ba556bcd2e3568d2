/**
 * The agents `backbeat tap` has heard from: each one's last accepted claim and last verdict,
 * bounded in size so that a flood of agent ids cannot grow it without end.
 */
import type { AcceptedFrame } from '../protocol/judge';
import { beatIndexToLegacy } from '../protocol/legacy';
import type { TapAgentRow, TapClaimEvent, TapTableEvent } from './tap-events';

/** Agents remembered at most; the one heard from longest ago is forgotten first. */
export const MAX_BOARD_AGENTS = 10_000;

/** Each agent's latest state, for the table printed once a bar. */
export class AgentBoard {
  /** In order of last update: the first entry is the one heard from longest ago. */
  private readonly rows = new Map<string, TapAgentRow>();

  constructor(private readonly maxAgents: number = MAX_BOARD_AGENTS) {}

  /**
   * Records a claim event. An accepted claim replaces the agent's state; a rejected one only
   * its verdict (a rejected claim never changes what the observer believes). A claim naming no
   * agent is ignored.
   *
   * @example
   * board.record(claimEvent(verdict, msg, trustedAgents, Date.now()));
   */
  record(event: TapClaimEvent): void {
    const agentId = event.agent_id;
    if (agentId === null) return;
    const before = this.rows.get(agentId);
    const claim = event.claim;
    const row: TapAgentRow =
      claim !== null
        ? {
            agent_id: agentId,
            state: claim.state,
            task_id: claim.task_id,
            progress: claim.progress,
            beats_left: claim.beats_left,
            beat_index: claim.beat_index,
            verdict: event.verdict,
            signature: event.signature,
          }
        : {
            agent_id: agentId,
            state: before?.state ?? null,
            task_id: before?.task_id ?? null,
            progress: before?.progress ?? null,
            beats_left: before?.beats_left ?? null,
            beat_index: before?.beat_index ?? null,
            verdict: event.verdict,
            signature: null,
          };
    this.rows.delete(agentId);
    this.rows.set(agentId, row);
    if (this.rows.size > this.maxAgents) {
      const oldest = this.rows.keys().next();
      if (oldest.done !== true) this.rows.delete(oldest.value);
    }
  }

  /**
   * The table for a beat: every agent's row, sorted by agent id.
   *
   * @example
   * if (frame.downbeat) print(board.table(frame));
   * @param frame The beat the table is printed at.
   */
  table(frame: AcceptedFrame): TapTableEvent {
    const agents = [...this.rows.values()].sort((a, b) =>
      a.agent_id < b.agent_id ? -1 : a.agent_id > b.agent_id ? 1 : 0,
    );
    return {
      kind: 'table',
      beat_index: frame.beat_index,
      bar: beatIndexToLegacy(frame.beat_index, frame.beats_per_bar).bar,
      window_id: frame.window_id,
      agents,
    };
  }
}
