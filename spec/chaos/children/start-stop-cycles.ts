/**
 * Run by spec/chaos/start-stop-cycles.spec.ts in a child process: 200 clients started and
 * stopped against a silent host (a TCP listener that accepts and never answers), half stopped
 * while their first dial is in progress, half once start() resolved degraded. Prints one JSON
 * line (the resources left, the sockets the host saw) and must then exit by itself: a timer or
 * socket of a client that outlived stop() would keep it alive.
 */
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { createClient } from '../../../lib/client';

const CYCLES = Number(process.env.CYCLES ?? 200);

/** Resource names with their counts. */
function tally(names: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

async function main(): Promise<void> {
  const open = new Set<Socket>();
  let accepted = 0;
  const silent = createServer((socket) => {
    accepted++;
    open.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => open.delete(socket));
  });
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const { port } = silent.address() as { port: number };
  const before = tally(process.getActiveResourcesInfo());

  const stopMs: number[] = [];
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const client = createClient({
      clusterId: 'cycles',
      agentId: `cycle-${cycle}`,
      natsUrl: `nats://127.0.0.1:${port}`,
      connectTimeoutMs: 30,
      reconnectDelayMs: 20,
      maxReconnectDelayMs: 2000,
    });
    const starting = client.start();
    if (cycle % 2 === 1) await starting;
    const startedAt = performance.now();
    await client.stop({ timeoutMs: 100 });
    stopMs.push(performance.now() - startedAt);
    await starting.catch(() => undefined);
  }

  // Every socket a client opened is closed by now or soon after (its FIN is on the way).
  const deadline = Date.now() + 10_000;
  while (open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const openAtEnd = open.size;
  await new Promise((resolve) => setImmediate(resolve));
  const after = tally(process.getActiveResourcesInfo());
  for (const socket of open) socket.destroy();
  silent.close();
  const left: Record<string, number> = {};
  for (const [name, count] of Object.entries(after)) {
    const extra = count - (before[name] ?? 0);
    if (extra > 0) left[name] = extra;
  }
  const sorted = [...stopMs].sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({
      cycles: CYCLES,
      accepted,
      openAtEnd,
      left,
      stopMsP50: Math.round(sorted[Math.floor(sorted.length / 2)]),
      stopMsMax: Math.round(sorted[sorted.length - 1]),
    })}\n`,
  );
}

void main();
