/**
 * The simple agent: follows the beat, prints one line per beat, sends a signed status claim
 * every beat, and verifies its own claims as an observer would, printing each verdict.
 *
 * Run it against a server that has a pulse:
 *   NATS_URL=nats://localhost:4222 BACKBEAT_CLUSTER=chorus-dev npx tsx examples/simple-agent.ts
 * (`npm start` starts a local server and a dev pulse first: see examples/main.ts.)
 */
import {
  beatIndexToLegacy,
  createClient,
  generateSigningKey,
  type BackbeatClient,
  type Beat,
} from '@chorus-services/backbeat';
import { Buffer } from 'node:buffer';

/** Options of {@link runSimpleAgent}. */
export interface SimpleAgentOptions {
  natsUrl: string;
  clusterId: string;
  agentId?: string;
  /** Where lines go; `console.log` by default. */
  print?: (line: string) => void;
  /** Short connect timeout for demos; the client's default otherwise. */
  connectTimeoutMs?: number;
}

/** A running simple agent. */
export interface SimpleAgent {
  client: BackbeatClient;
  stop(): Promise<void>;
}

/** One line for a beat: index, bar:beat, phase, tempo, source. */
export function beatLine(beat: Beat): string {
  const { bar, beat: beatInBar } = beatIndexToLegacy(beat.beat_index, beat.beats_per_bar);
  const missed = beat.missedBefore > 0 ? ` (missed ${beat.missedBefore})` : '';
  const reset = beat.timelineReset ? ' (new timeline)' : '';
  return `beat ${beat.beat_index}  ${bar}:${beatInBar}  ${beat.phase.padEnd(8)} ${beat.tempo_bpm} BPM  ${beat.source}${missed}${reset}`;
}

/**
 * Starts the simple agent.
 *
 * @param options Server, cluster, agent id and where to print.
 * @return The agent, to stop.
 */
export async function runSimpleAgent(options: SimpleAgentOptions): Promise<SimpleAgent> {
  const print = options.print ?? console.log;
  const agentId = options.agentId ?? `simple-agent-${process.pid}`;
  const { secretKey, publicKey } = generateSigningKey();
  const client = createClient({
    clusterId: options.clusterId,
    agentId,
    natsUrl: options.natsUrl,
    signingKey: secretKey,
    ...(options.connectTimeoutMs ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
  });

  let sent = 0;
  client.onBeat(async (beat) => {
    print(beatLine(beat));
    sent++;
    await client.emitStatusClaim({
      taskId: 'simple-agent-demo',
      state: 'executing',
      beatsLeft: 100 - (sent % 100),
      progress: (sent % 100) / 100,
      notes: `beat ${beat.beat_index} (${beat.source})`,
    });
  });
  client.health$.subscribe((health) => {
    if (health.localDegradation) {
      print(
        `degraded: keeping time on local synthetic beats${health.reason ? ` (${health.reason})` : ''}`,
      );
    } else if (health.connected) {
      print(`following the pulse at ${health.tempoBpm} BPM`);
    }
  });

  await client.start();
  const verdicts = client
    .statusClaims$({ trustedKeys: { [agentId]: Buffer.from(publicKey).toString('base64') } })
    .subscribe((verdict) => {
      if (verdict.ok) {
        if (verdict.claim.agent_id === agentId) {
          print(`  claim at beat ${verdict.claim.beat_index}: ok`);
        }
      } else if (verdict.subject.endsWith(`.${agentId}`)) {
        print(`  claim: ${verdict.reason}`);
      }
    });

  return {
    client,
    async stop() {
      verdicts.unsubscribe();
      await client.stop({ timeoutMs: 2000 });
    },
  };
}

if (require.main === module) {
  const natsUrl = process.env.NATS_URL ?? 'nats://localhost:4222';
  const clusterId = process.env.BACKBEAT_CLUSTER ?? 'chorus-dev';
  // Handlers first: the agent may print (and be signalled) before start() has resolved.
  const agent = runSimpleAgent({ natsUrl, clusterId });
  const quit = () => void agent.then((running) => running.stop()).then(() => process.exit(0));
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
}
