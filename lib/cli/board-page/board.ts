/**
 * The page `backbeat board` serves: follows the cluster with the SDK's browser build, which dials
 * nats-server's WebSocket listener (nats.ws), and draws what the SDK delivers.
 */
import { beatIndexToLegacy, createClient, type HealthStatus } from '../../index';
import type { BoardConfig } from '../board-config';
import { BoardModel, LATENESS_WINDOW_MS, type AgentRow } from './board-model';

const model = new BoardModel();
let health: HealthStatus | null = null;

const byId = (id: string): HTMLElement => {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element;
};

function setText(id: string, text: string, className?: string): void {
  const element = byId(id);
  element.textContent = text;
  if (className !== undefined) element.className = className;
}

function renderBeat(): void {
  const beat = model.lastBeat;
  if (beat !== null) {
    const { bar, beat: beatInBar } = beatIndexToLegacy(beat.beat_index, beat.beats_per_bar);
    setText('beat-index', String(beat.beat_index));
    setText('bar-beat', `${bar}:${beatInBar}`);
    setText('phase', beat.phase);
    setText('tempo', `${beat.tempo_bpm} bpm`);
    setText('source', beat.source, beat.source);
  }
  if (health !== null) {
    setText(
      'degraded',
      health.localDegradation ? 'degraded' : 'following',
      health.localDegradation ? 'degraded' : 'following',
    );
    setText(
      'connection',
      health.connected ? 'connected' : 'disconnected',
      health.connected ? 'badge ok' : 'badge bad',
    );
  }
}

function formatAge(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

function cell(field: string, content: string | Node): HTMLTableCellElement {
  const td = document.createElement('td');
  td.dataset.field = field;
  if (typeof content === 'string') td.textContent = content;
  else td.append(content);
  return td;
}

function progressBar(progress: number | null): Node {
  const bar = document.createElement('div');
  bar.className = 'bar';
  const fill = document.createElement('div');
  fill.style.width = `${Math.round((progress ?? 0) * 100)}%`;
  bar.append(fill);
  bar.title = progress === null ? '' : `${Math.round(progress * 100)}%`;
  return bar;
}

function renderRow(row: AgentRow, nowMs: number, tempoBpm: number): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.dataset.agent = row.agentId;
  tr.classList.toggle('quiet', model.isQuiet(row, nowMs, tempoBpm));
  tr.classList.toggle('rejected', row.verdict !== 'ok');
  const verdict = cell('verdict', row.verdict);
  verdict.classList.toggle('ok', row.verdict === 'ok');
  tr.append(
    cell('agent', row.agentId),
    cell('state', row.state),
    cell('progress', progressBar(row.progress)),
    cell('beats-left', row.beatsLeft === null ? '–' : String(row.beatsLeft)),
    cell('task', row.taskId),
    cell('age', formatAge(nowMs - row.lastSeenMs)),
    verdict,
  );
  return tr;
}

function renderTable(): void {
  const nowMs = Date.now();
  const tempoBpm = health?.tempoBpm ?? model.lastBeat?.tempo_bpm ?? 60;
  const rows = [...model.agents.values()].sort((a, b) => a.agentId.localeCompare(b.agentId));
  byId('agents')
    .querySelector('tbody')!
    .replaceChildren(...rows.map((row) => renderRow(row, nowMs, tempoBpm)));
  byId('no-agents').hidden = rows.length > 0;
}

/** The lateness strip: one bar per pulse beat (up when late), a grey tick per synthetic beat. */
function drawStrip(): void {
  const canvas = byId('lateness-strip') as HTMLCanvasElement;
  const context = canvas.getContext('2d');
  if (context === null) return;
  const { width, height } = canvas;
  const middle = height / 2;
  context.fillStyle = '#182028';
  context.fillRect(0, 0, width, height);
  context.fillStyle = '#2a333d';
  context.fillRect(0, middle, width, 1);
  const samples = model.lateness;
  const scaleMs = Math.max(20, ...samples.map((sample) => Math.abs(sample.lateMs ?? 0)));
  const endMs = model.lastBeat?.receivedAtMs ?? Date.now();
  for (const sample of samples) {
    const x = width - ((endMs - sample.atMs) / LATENESS_WINDOW_MS) * width;
    if (sample.lateMs === null) {
      context.fillStyle = '#8b98a5';
      context.fillRect(x - 1, middle - 3, 2, 6);
      continue;
    }
    const size = (sample.lateMs / scaleMs) * (middle - 4);
    const magnitude = Math.abs(sample.lateMs);
    context.fillStyle = magnitude < 50 ? '#3fb950' : magnitude < 250 ? '#d29922' : '#f85149';
    context.fillRect(x - 2, size > 0 ? middle - size : middle, 4, Math.max(1, Math.abs(size)));
  }
  const last = samples.at(-1);
  setText(
    'lateness-now',
    last === undefined
      ? ''
      : last.lateMs === null
        ? '— synthetic'
        : `— now ${Math.round(last.lateMs)} ms (scale ±${Math.round(scaleMs)} ms)`,
  );
}

function showError(error: unknown): void {
  const footer = byId('error');
  footer.hidden = false;
  footer.textContent = `error: ${error instanceof Error ? error.message : String(error)}`;
}

async function start(): Promise<void> {
  const response = await fetch('config.json');
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const config = (await response.json()) as BoardConfig;
  setText('cluster', config.clusterId);
  document.title = `backbeat board: ${config.clusterId}`;
  // Dialled by the SDK's browser edge (nats.ws), as any client given `ws://` URLs: its reconnect
  // backoff, health and degradation come with it.
  const client = createClient({
    clusterId: config.clusterId,
    agentId: `board-${crypto.getRandomValues(new Uint32Array(1))[0].toString(16)}`,
    natsUrl: [...config.servers],
    natsOptions: {
      name: 'backbeat-board',
      ...(config.user !== undefined && { user: config.user, pass: config.pass }),
      ...(config.token !== undefined && { token: config.token }),
    },
  });
  client.beat$.subscribe((beat) => {
    health = client.health();
    model.addBeat(beat, health.timeDriftMs);
    renderBeat();
    renderTable();
    drawStrip();
  });
  client.health$.subscribe((next) => {
    health = next;
    renderBeat();
  });
  await client.start();
  client
    .statusClaims$({
      trustedKeys: config.trustedKeys ?? {},
      requireSignature: config.trustedKeys !== undefined,
    })
    .subscribe((verdict) => {
      model.addVerdict(verdict, Date.now());
      renderTable();
    });
  drawStrip();
}

start().catch(showError);
