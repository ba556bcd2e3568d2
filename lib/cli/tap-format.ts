/**
 * How `backbeat tap` prints its events: one JSON object per line with `--json`, else short
 * aligned lines and, once a bar, a table.
 */
import type {
  ClaimSignature,
  TapAgentRow,
  TapBeatEvent,
  TapClaimEvent,
  TapEvent,
  TapFrameRejectedEvent,
  TapTableEvent,
} from './tap-events';

/**
 * An event as one line of NDJSON.
 *
 * @example
 * formatEventJson(event); // '{"kind":"beat","beat_index":12,…}\n'
 */
export function formatEventJson(event: TapEvent): string {
  return `${JSON.stringify(event)}\n`;
}

/**
 * An event as text for a person: one line, or several for a table; ends with a newline.
 *
 * @example
 * formatEventText(beat); // 'beat 12      4:1  downbeat  plan      120 bpm  late +3 ms   pulse-…\n'
 */
export function formatEventText(event: TapEvent): string {
  switch (event.kind) {
    case 'beat':
      return `${formatBeat(event)}\n`;
    case 'frame-rejected':
      return `${formatFrameRejected(event)}\n`;
    case 'claim':
      return `${formatClaim(event)}\n`;
    case 'table':
      return formatTable(event);
  }
}

/**
 * A beat: index, bar:beat, downbeat, phase, tempo, lateness against the previous frame's
 * `deadline_at`, pulse id, and flags (legacy source, HLC ahead).
 */
export function formatBeat(event: TapBeatEvent): string {
  const flags = [
    event.source === 'legacy' ? 'legacy frame' : '',
    event.hlc_skew ? 'hlc ahead of this clock' : '',
  ].filter((flag) => flag.length > 0);
  return [
    `beat ${String(event.beat_index).padEnd(7)}`,
    `${event.bar}:${event.beat}`.padEnd(7),
    (event.downbeat ? 'downbeat' : '').padEnd(8),
    event.phase.padEnd(8),
    `${formatNumber(event.tempo_bpm)} bpm`.padEnd(9),
    formatLateness(event.late_ms).padEnd(12),
    event.pulse_id,
    ...(flags.length > 0 ? [`(${flags.join(', ')})`] : []),
  ].join('  ');
}

/**
 * A rejected frame and its reason.
 */
export function formatFrameRejected(event: TapFrameRejectedEvent): string {
  return `frame rejected: ${event.reason} (${event.bytes} bytes)`;
}

/**
 * A claim: the agent, what it says, and the verdict.
 */
export function formatClaim(event: TapClaimEvent): string {
  const verdict = verdictText(event.verdict, event.signature);
  const claim = event.claim;
  if (claim === null) return `claim ${event.agent_id ?? event.subject}  rejected: ${verdict}`;
  return [
    `claim ${claim.agent_id}`,
    claim.state,
    claim.task_id,
    formatProgress(claim.progress),
    `${claim.beats_left} beats left`,
    `at beat ${claim.beat_index}`,
    verdict,
  ].join('  ');
}

/** Column titles of the table, and how each row fills them. */
const TABLE_COLUMNS: ReadonlyArray<readonly [string, (row: TapAgentRow) => string]> = [
  ['AGENT', (row) => row.agent_id],
  ['STATE', (row) => row.state ?? '-'],
  ['TASK', (row) => row.task_id ?? '-'],
  ['PROGRESS', (row) => (row.progress === null ? '-' : formatProgress(row.progress))],
  ['BEATS_LEFT', (row) => (row.beats_left === null ? '-' : String(row.beats_left))],
  ['BEAT', (row) => (row.beat_index === null ? '-' : String(row.beat_index))],
  ['VERDICT', (row) => verdictText(row.verdict, row.signature)],
];

/**
 * The table of every agent's latest state, under a heading naming the bar.
 *
 * @example
 * formatTable(board.table(frame));
 * // '── bar 4 (beat 12, window 3f9c…) ──\nAGENT    STATE  …\nindexer  executing  …\n'
 */
export function formatTable(event: TapTableEvent): string {
  const heading = `── bar ${event.bar} (beat ${event.beat_index}, window ${event.window_id}) ──`;
  if (event.agents.length === 0) return `${heading}\n(no claims yet)\n`;
  const cells = [
    TABLE_COLUMNS.map(([title]) => title),
    ...event.agents.map((row) => TABLE_COLUMNS.map(([, cell]) => cell(row))),
  ];
  const widths = TABLE_COLUMNS.map((_, i) => Math.max(...cells.map((line) => line[i].length)));
  const lines = cells.map((line) =>
    line
      .map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
  return `${[heading, ...lines].join('\n')}\n`;
}

/**
 * A verdict for a person: `ok` when signed by a trusted key, `ok (unsigned)` or
 * `ok (untrusted key)` when accepted without one, else the rejection reason.
 */
export function verdictText(verdict: string, signature: ClaimSignature | null): string {
  if (verdict !== 'ok') return verdict;
  if (signature === 'unsigned') return 'ok (unsigned)';
  if (signature === 'untrusted-key') return 'ok (untrusted key)';
  return 'ok';
}

function formatLateness(lateMs: number | null): string {
  if (lateMs === null) return 'late -';
  return `late ${lateMs >= 0 ? '+' : ''}${lateMs} ms`;
}

function formatProgress(progress: number): string {
  return `${Math.round(progress * 100)}%`;
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2).replace(/0+$/, '');
}
