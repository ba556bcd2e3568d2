/**
 * `npm start`: the real flow in one terminal — a NATS server, the dev pulse, and the simple agent
 * following it, sending a signed claim every beat and verifying it as an observer would.
 *
 * With no `NATS_URL` it starts a local nats-server (found on this machine or fetched, as the
 * tests do) and a dev pulse on cluster `BACKBEAT_CLUSTER` (default `chorus-dev`). With
 * `NATS_URL` set it joins that server's pulse instead. When no server can be reached or started
 * it says so and keeps beating on its own. Ctrl-C (or SIGTERM) stops everything cleanly.
 */
import { startPulse, type Pulse } from '@chorus-services/backbeat';
import { startNatsServer, type NatsServerHandle } from '../spec/support/nats-server';
import { runSimpleAgent } from './simple-agent';

const print = (line: string): void => console.log(line);

async function main(): Promise<void> {
  const clusterId = process.env.BACKBEAT_CLUSTER ?? 'chorus-dev';
  let natsUrl = process.env.NATS_URL;
  let server: NatsServerHandle | null = null;
  let pulse: Pulse | null = null;

  if (natsUrl) {
    print(`joining the pulse of cluster ${clusterId} on ${natsUrl}`);
  } else {
    try {
      server = await startNatsServer();
      natsUrl = server.url;
      pulse = await startPulse({ natsUrl, clusterId, tempoBpm: 60, pulseId: 'dev-pulse' });
      print(`started nats-server on ${natsUrl} and a dev pulse (60 BPM) for cluster ${clusterId}`);
    } catch (error) {
      natsUrl = 'nats://127.0.0.1:4222';
      print(
        `could not start a local nats-server (${(error as Error).message.split('\n')[0]}): ` +
          'running degraded on local synthetic beats',
      );
    }
  }

  // The agent prints beats as soon as it follows the pulse, before start() has resolved: the
  // signal handlers go in first, so that a signal at any time stops everything cleanly.
  const agent = runSimpleAgent({ natsUrl, clusterId, print, connectTimeoutMs: 1000 });
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await (await agent).stop();
    await pulse?.stop();
    await server?.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  await agent;
  print('press Ctrl-C to stop');
}

void main();
