/**
 * One follower of `bench/phase.ts`, in a process of its own: it follows the pulse and records
 * every beat it delivers (index, source, wall-clock time with sub-ms precision, reset, missed).
 * Started by phase.ts over IPC; sends `{ ready: true }` once subscribed, is then told the
 * pulse's epoch, and sends its record when told `stop`.
 *
 * Kinds (env PHASE_KIND):
 * - `sdk`: a BACKBEAT client (the SDK as built), its `beat$`.
 * - `raw-min`: the baseline, a minimal raw nats.js follower keeping the pulse's grid with a min
 *   filter over the last 16 frames (as docs/protocol.md section 9 states it), synthetic beats on it.
 * - `raw-last`: the previous design, the same follower anchoring its synthetic schedule on the
 *   last frame's arrival.
 * - `timer`: the control, a timer at each beat's exact time on the pulse's grid (known from the
 *   epoch): the machine's own timer lateness.
 * PHASE_BUSY_INDEXES (comma-separated): the follower's event loop is busy 45 ms around the
 * arrival of each of these beats (from 5 ms before its due time).
 */
import { performance } from 'node:perf_hooks';
import { connect } from 'nats';
import { createClient } from '../lib/client';
import { beatSubject } from '../lib/protocol/subjects';

const kind = process.env.PHASE_KIND ?? 'sdk';
const natsUrl = process.env.PHASE_NATS_URL ?? 'nats://127.0.0.1:4222';
const clusterId = process.env.PHASE_CLUSTER ?? 'phase';
const name = process.env.PHASE_NAME ?? kind;
/** The pulse's epoch, told by phase.ts once every follower is ready. */
let epochMs = 0;
const tempoBpm = Number(process.env.PHASE_TEMPO_BPM ?? '120');
const toleranceMs = 100;
const busyIndexes = (process.env.PHASE_BUSY_INDEXES ?? '')
  .split(',')
  .filter((text) => text !== '')
  .map(Number);
const BUSY_MS = 45;
const BUSY_LEAD_MS = 5;
const GRID_WINDOW = 16;

/** One delivered beat. */
export interface Recorded {
  index: number;
  source: string;
  /** Wall clock, ms since the Unix epoch, sub-ms precision (timeOrigin + performance.now()). */
  atMs: number;
  reset: boolean;
  missed: number;
  /**
   * When the follower planned the next beat (wall clock, ms): the SDK's `deadline_at` of a
   * synthetic beat (whole ms), the raw follower's timer target. The plan, free of the machine's
   * timer lateness.
   */
  nextPlannedAtMs: number | null;
}

const beats: Recorded[] = [];
const wallNow = () => performance.timeOrigin + performance.now();
const period = 60000 / tempoBpm;

function record(
  index: number,
  source: string,
  reset = false,
  missed = 0,
  nextPlannedAtMs: number | null = null,
): void {
  beats.push({ index, source, atMs: wallNow(), reset, missed, nextPlannedAtMs });
}

/** Busy-waits `ms`: the event loop can do nothing else meanwhile. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

function scheduleBusyLoops(): void {
  for (const index of busyIndexes) {
    const startAt = epochMs + index * period - BUSY_LEAD_MS;
    setTimeout(() => spin(BUSY_MS), Math.max(0, startAt - wallNow()));
  }
}

async function sdkFollower(): Promise<() => Promise<void>> {
  const client = createClient({
    clusterId,
    agentId: name,
    natsUrl,
    jitterToleranceMs: toleranceMs,
  });
  client.beat$.subscribe((beat) =>
    record(
      beat.beat_index,
      beat.source,
      beat.timelineReset,
      beat.missedBefore,
      beat.source === 'synthetic' ? Date.parse(beat.deadline_at) : null,
    ),
  );
  await client.start();
  return async () => {
    await client.stop();
  };
}

/** The raw follower: frames parsed by hand, synthetic beats on a grid of its own. */
async function rawFollower(anchorOnLast: boolean): Promise<() => Promise<void>> {
  const connection = await connect({ servers: natsUrl, name });
  let lastIndex = -1;
  let origin = 0;
  let offsets: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  const dueOf = (index: number) => Math.min(...offsets) + (index - origin) * period;

  const arm = (dueMono: number, work: () => void) => {
    clearTimeout(timer);
    timer = setTimeout(work, Math.max(0, dueMono - performance.now()));
  };
  const synthetic = (index: number) => {
    lastIndex = index;
    record(index, 'synthetic', false, 0, performance.timeOrigin + dueOf(index + 1));
    arm(dueOf(index + 1), () => synthetic(index + 1));
  };

  connection.subscribe(beatSubject(clusterId), {
    callback: (_error, msg) => {
      const arrival = performance.now();
      const frame = JSON.parse(new TextDecoder().decode(msg.data)) as { beat_index: number };
      const index = frame.beat_index;
      if (anchorOnLast || offsets.length === 0) {
        origin = index;
        offsets = [arrival];
      } else {
        offsets.push(arrival - (index - origin) * period);
        if (offsets.length > GRID_WINDOW) offsets.shift();
      }
      if (index > lastIndex) {
        lastIndex = index;
        record(index, 'pulse');
      }
      // Degraded one period plus the tolerance after the last beat was due.
      const last = lastIndex;
      arm(dueOf(last) + period + toleranceMs, () => synthetic(last + 1));
    },
  });
  await connection.flush();
  return async () => {
    clearTimeout(timer);
    await connection.close();
  };
}

/**
 * The control: no frames at all, a timer for each beat at its exact time on the pulse's grid
 * (known from the epoch). Its error is this machine's timer lateness, nothing else.
 */
function timerControl(): () => () => Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const next = (index: number) => {
    const dueAt = epochMs + index * period;
    timer = setTimeout(
      () => {
        record(index, 'synthetic', false, 0, epochMs + (index + 1) * period);
        next(index + 1);
      },
      Math.max(0, dueAt - wallNow()),
    );
  };
  return () => {
    next(Math.max(0, Math.ceil((wallNow() - epochMs) / period)));
    return () => {
      clearTimeout(timer);
      return Promise.resolve();
    };
  };
}

async function main(): Promise<void> {
  const control = kind === 'timer' ? timerControl() : undefined;
  let stop: () => Promise<void> = () => Promise.resolve();
  if (kind === 'sdk') stop = await sdkFollower();
  else if (control === undefined) stop = await rawFollower(kind === 'raw-last');
  process.send?.({ ready: true });
  process.on('message', (message: { epochMs?: number; stop?: boolean }) => {
    if (message.epochMs !== undefined) {
      epochMs = message.epochMs;
      scheduleBusyLoops();
      if (control !== undefined) stop = control();
    }
    if (message.stop !== true) return;
    void stop().then(() => {
      process.send?.({ name, kind, busy: busyIndexes.length > 0, beats }, () => process.exit(0));
    });
  });
}

void main();
