/**
 * A flood of distinct agents through one `verifyStatus` subscription, measuring the heap: run by
 * observer-flood.spec.ts as `node --expose-gc --import tsx spec/chaos/flood-observer.ts
 * <signed|unsigned> <agents> <maxClaimAgeMs>`; prints one JSON line of figures and ends by
 * itself (an observer's timers must not keep the process alive).
 *
 * The observer's clock stands still during the flood (so the cap, not the age, bounds the
 * memory), then runs with the wall clock: with no further claim the memory must go within the
 * maximum claim age plus a sweep.
 */
import { Subject } from 'rxjs';
import { formatHlc } from '../../lib/clock/hlc';
import { encodeBase64 } from '../../lib/crypto/base64';
import { generateSigningKey, parseSigningKey } from '../../lib/crypto/keys';
import { signBytes } from '../../lib/crypto/signature';
import type { StatusMessage } from '../../lib/observers/judge-claim';
import { verifyStatus, type StatusVerdict } from '../../lib/operators/verify-status';
import { statusSubject } from '../../lib/protocol/subjects';

const CLUSTER = 'flood';
const MB = 1024 * 1024;

const [mode = 'unsigned', agentsText = '200000', maxAgeText = '3000'] = process.argv.slice(2);
const agents = Number(agentsText);
const maxClaimAgeMs = Number(maxAgeText);
const signed = mode === 'signed';
const key = parseSigningKey(generateSigningKey().secretKey);
const encoder = new TextEncoder();

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function heapMb(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed / MB;
}

const agentId = (i: number): string => `agent-${i}`;

/** One agent's claim stamped at `atMs`, signed or not. */
function claimOf(i: number, atMs: number): StatusMessage {
  const id = agentId(i);
  const hlc = formatHlc(atMs, 0, id);
  const data = encoder.encode(
    JSON.stringify({
      type: 'backbeat.statusclaim.v1',
      cluster_id: CLUSTER,
      agent_id: id,
      task_id: 'task-flood',
      beat_index: 1,
      window_id: 'e6b31da7f5eb743a89765e7c59b69740',
      state: 'executing',
      beats_left: 1,
      progress: 0.5,
      notes: '',
      hlc,
    }),
  );
  const headers: Record<string, string> = {
    'x-agent-id': id,
    'x-window-id': 'e6b31da7f5eb743a89765e7c59b69740',
    'x-hlc': hlc,
  };
  if (signed) {
    headers['x-signature'] = encodeBase64(signBytes(key, data));
    headers['x-public-key'] = key.publicKeyBase64;
  }
  return { subject: statusSubject(CLUSTER, id), data, headers };
}

function trustEveryAgent(): Record<string, string> {
  const trustedKeys: Record<string, string> = {};
  for (let i = 0; i < agents; i++) trustedKeys[agentId(i)] = key.publicKeyBase64;
  return trustedKeys;
}

async function main(): Promise<void> {
  const floodAt = Date.now();
  let floodEnded: number | null = null;
  // Frozen during the flood, then the wall clock's own pace.
  const physicalNow = () => (floodEnded === null ? floodAt : floodAt + Date.now() - floodEnded);
  let evicted = 0;
  const operator = verifyStatus({
    requireSignature: signed,
    // Signatures required: each agent needs a trusted key (no trust on first use). The
    // operator's parsed copy is part of the baseline; this record is not kept.
    trustedKeys: signed ? trustEveryAgent() : {},
    maxClaimAgeMs,
    physicalNow,
    onEvict: ({ count }) => {
      evicted = count;
    },
  });
  const input = new Subject<StatusMessage>();
  let accepted = 0;
  let rejected = 0;
  const observing = input.pipe(operator).subscribe((verdict: StatusVerdict) => {
    if (verdict.ok) accepted++;
    else rejected++;
  });

  const baselineMb = heapMb();
  const started = Date.now();
  for (let i = 0; i < agents; i++) input.next(claimOf(i, floodAt));
  const floodMs = Date.now() - started;
  const afterFloodMb = heapMb();
  floodEnded = Date.now();

  // No further input: wait until the heap is back near the start (a deadline guards it).
  const deadline = floodEnded + maxClaimAgeMs + 30_000;
  let releasedMb = heapMb();
  while (releasedMb > baselineMb + 5 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    releasedMb = heapMb();
  }
  const releasedAfterMs = Date.now() - floodEnded;
  // The observer stays subscribed (and reachable) through the wait: what went is its memory.
  const stillObserving = !observing.closed;
  observing.unsubscribe();

  // A second observer that still remembers an agent for an hour: its timer must not keep the
  // process alive, so this script ends by itself.
  const lingering = new Subject<StatusMessage>();
  lingering
    .pipe(verifyStatus({ requireSignature: false, maxClaimAgeMs: 3_600_000 }))
    .subscribe(() => undefined);
  lingering.next(claimOf(0, Date.now()));

  process.stdout.write(
    `${JSON.stringify({
      mode,
      agents,
      maxClaimAgeMs,
      accepted,
      rejected,
      stillObserving,
      evicted,
      floodMs,
      baselineMb: round(baselineMb),
      afterFloodMb: round(afterFloodMb),
      releasedMb: round(releasedMb),
      releasedAfterMs,
    })}\n`,
  );
}

function round(mb: number): number {
  return Math.round(mb * 10) / 10;
}

void main();
