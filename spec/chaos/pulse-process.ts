/**
 * A dev pulse in a process of its own, for chaos tests that block the test process's event
 * loop (a pulse in that process would stop sending too). Started with `startPulseProcess`;
 * it prints `ready <first index>` once its first frame is out and runs until killed.
 *
 * Env: PULSE_NATS_URL, PULSE_CLUSTER, PULSE_ID, PULSE_TEMPO_BPM, PULSE_EPOCH_MS.
 */
import { startPulse } from '../../lib/pulse/pulse';

async function main(): Promise<void> {
  const pulse = await startPulse({
    natsUrl: process.env.PULSE_NATS_URL ?? 'nats://127.0.0.1:4222',
    clusterId: process.env.PULSE_CLUSTER ?? 'chaos',
    pulseId: process.env.PULSE_ID ?? 'pulse-process',
    tempoBpm: Number(process.env.PULSE_TEMPO_BPM ?? '600'),
    epochMs: Number(process.env.PULSE_EPOCH_MS ?? '0'),
  });
  process.stdout.write(`ready ${pulse.beatIndex()}\n`);
  process.once('SIGTERM', () => void pulse.stop().then(() => process.exit(0)));
}

void main();
