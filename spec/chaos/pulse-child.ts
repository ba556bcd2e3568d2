/**
 * A dev pulse in a child process, for chaos tests that block this process's event loop (an
 * in-process pulse would stop sending too).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** A dev pulse running in a child process (see pulse-process.ts). */
export interface PulseProcess {
  /** The index of its first frame. */
  readonly firstIndex: number;
  /** Stops it (SIGTERM) and resolves once it exited. */
  stop(): Promise<void>;
}

/**
 * Starts a dev pulse in a child process (node with tsx), on the epoch given: for tests that
 * block this process's event loop, which would stop an in-process pulse too.
 */
export function startPulseProcess(env: {
  natsUrl: string;
  clusterId: string;
  pulseId: string;
  tempoBpm: number;
  epochMs: number;
}): Promise<PulseProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'pulse-process.ts')], {
    env: {
      ...process.env,
      PULSE_NATS_URL: env.natsUrl,
      PULSE_CLUSTER: env.clusterId,
      PULSE_ID: env.pulseId,
      PULSE_TEMPO_BPM: String(env.tempoBpm),
      PULSE_EPOCH_MS: String(env.epochMs),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      const ready = /ready (\d+)/.exec(out);
      if (ready === null) return;
      resolve({
        firstIndex: Number(ready[1]),
        stop: () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          return exited;
        },
      });
    });
    child.once('exit', (code) => reject(new Error(`the pulse process exited with code ${code}`)));
  });
}
