/**
 * The observer of spec/chaos/clock-step.spec.ts, run in a process of its own (`node --import tsx`)
 * so that its wall clock is never the one the test steps. It verifies every claim of the cluster
 * with `verifyStatus` on its own `Date.now` and prints one JSON line per claim:
 * `{ "hlc", "ok", "reason", "leadMs" }`, `leadMs` being the stamp's `l` minus this process's wall
 * clock at arrival. First it prints `{ "ready": true }`, once its subscription is registered.
 *
 * Usage: clock-step-observer.ts <natsUrl> <clusterId> <agentId> <publicKeyBase64> <maxClaimAgeMs>
 */
import { connect, type Msg } from 'nats';
import { Subject } from 'rxjs';
import { hlcPhysicalMs } from '../../lib/clock/hlc';
import { verifyStatus } from '../../lib/operators/verify-status';
import { statusWildcard } from '../../lib/protocol/subjects';

const [url, clusterId, agentId, publicKey, maxClaimAgeMs] = process.argv.slice(2);

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const decoder = new TextDecoder();

/** The stamp of a claim's payload, whatever the verdict on it. */
function stampOf(data: Uint8Array): string | null {
  try {
    const hlc = (JSON.parse(decoder.decode(data)) as { hlc?: unknown }).hlc;
    return typeof hlc === 'string' ? hlc : null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const nc = await connect({ servers: url, name: 'clock-step-observer' });
  const arrivals = new Subject<Msg>();
  const pending: { hlc: string | null; leadMs: number | null }[] = [];
  // verifyStatus maps one to one and in order: each verdict is that of the oldest pending claim.
  arrivals
    .pipe(
      verifyStatus({
        trustedKeys: { [agentId]: publicKey },
        requireSignature: true,
        maxClaimAgeMs: Number(maxClaimAgeMs),
      }),
    )
    .subscribe((verdict) => {
      const arrival = pending.shift()!;
      print({ ...arrival, ok: verdict.ok, reason: verdict.ok ? null : verdict.reason });
    });
  nc.subscribe(statusWildcard(clusterId), {
    callback: (_err, msg) => {
      const hlc = stampOf(msg.data);
      const l = hlc === null ? null : hlcPhysicalMs(hlc);
      pending.push({ hlc, leadMs: l === null ? null : l - Date.now() });
      arrivals.next(msg);
    },
  });
  await nc.flush();
  print({ ready: true });
  // Ends when the test closes stdin (or kills it).
  process.stdin.resume();
  process.stdin.on('end', () => void nc.close().then(() => process.exit(0)));
}

main().catch((error: unknown) => {
  process.stderr.write(`observer failed: ${String(error)}\n`);
  process.exit(1);
});
