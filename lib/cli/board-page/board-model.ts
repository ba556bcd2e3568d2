/**
 * The board's view of the cluster, made only of what the SDK delivered: the beats of `beat$`,
 * the health of `health()`, and the verdicts of `statusClaims$()`. No judging here: a verdict is
 * shown as the SDK gave it.
 */
import type { Beat, StatusVerdict } from '../../index';

/** How much lateness history the strip shows. */
export const LATENESS_WINDOW_MS = 60_000;

/** Claims older than this many beats mark their agent as gone quiet. */
export const QUIET_AFTER_BEATS = 4;
/** Rows the board keeps at most; beyond, the agent heard least recently goes. */
export const MAX_AGENT_ROWS = 1000;

/** One beat on the lateness strip. */
export interface LatenessSample {
  readonly atMs: number;
  /** `health().timeDriftMs` when the beat came from the pulse; null for a synthetic beat. */
  readonly lateMs: number | null;
}

/** An agent's row: its last accepted claim and its last verdict. */
export interface AgentRow {
  readonly agentId: string;
  state: string;
  progress: number | null;
  beatsLeft: number | null;
  taskId: string;
  /** When the board received the agent's last claim message (accepted or not), wall ms. */
  lastSeenMs: number;
  /** `'ok'`, or the reason the SDK gave for refusing the last claim. */
  verdict: string;
}

/** The agent id a claim subject names (`backbeat.<cluster>.status.<agent>`), or null. */
export function agentOfSubject(subject: string): string | null {
  const parts = subject.split('.');
  return parts.length === 4 && parts[2] === 'status' && parts[3] !== '' ? parts[3] : null;
}

/** The board's state, fed by the SDK's streams. */
export class BoardModel {
  readonly agents = new Map<string, AgentRow>();
  readonly lateness: LatenessSample[] = [];
  lastBeat: Beat | null = null;

  /** A delivered beat, with the client's drift when it came from the pulse. */
  addBeat(beat: Beat, timeDriftMs: number): void {
    this.lastBeat = beat;
    this.lateness.push({
      atMs: beat.receivedAtMs,
      lateMs: beat.source === 'synthetic' ? null : timeDriftMs,
    });
    const oldest = beat.receivedAtMs - LATENESS_WINDOW_MS;
    while (this.lateness.length > 0 && this.lateness[0].atMs < oldest) this.lateness.shift();
  }

  /** A verdict of `statusClaims$()`, received at `nowMs`. */
  addVerdict(verdict: StatusVerdict, nowMs: number): void {
    const agentId = verdict.ok ? verdict.claim.agent_id : agentOfSubject(verdict.subject);
    if (agentId === null) return; // junk on a subject that names no agent: nothing to show
    let row = this.agents.get(agentId);
    // Least recently heard first out: a page left open (or fed junk subjects) stays bounded.
    if (row !== undefined) this.agents.delete(agentId);
    else if (this.agents.size >= MAX_AGENT_ROWS) {
      this.agents.delete(this.agents.keys().next().value as string);
    }
    if (row === undefined) {
      row = {
        agentId,
        state: '–',
        progress: null,
        beatsLeft: null,
        taskId: '',
        lastSeenMs: 0,
        verdict: '',
      };
    }
    this.agents.set(agentId, row);
    row.lastSeenMs = nowMs;
    if (verdict.ok) {
      const { claim } = verdict;
      row.state = claim.state;
      row.progress = claim.progress;
      row.beatsLeft = claim.beats_left;
      row.taskId = claim.task_id;
      row.verdict = 'ok';
    } else {
      row.verdict = verdict.reason;
    }
  }

  /** Whether an agent's last claim is older than {@link QUIET_AFTER_BEATS} beats at `tempoBpm`. */
  isQuiet(row: AgentRow, nowMs: number, tempoBpm: number): boolean {
    return nowMs - row.lastSeenMs > (QUIET_AFTER_BEATS * 60_000) / tempoBpm;
  }
}
