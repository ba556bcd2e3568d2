/**
 * The task processor: runs jobs under beat budgets and says how each one went as a signed
 * status claim — `executing` when it starts, `done` when it finishes within its budget,
 * `failed` (with the reason in `notes`) when the budget runs out or the job throws.
 *
 * Run it against a server that has a pulse:
 *   NATS_URL=nats://localhost:4222 BACKBEAT_CLUSTER=chorus-dev npx tsx examples/task-processor.ts
 * As a script it takes a demo job on each downbeat; some are too slow for their budget.
 */
import {
  BeatBudgetExceededError,
  ClientStateError,
  createClient,
  generateSigningKey,
  type BackbeatClient,
  type StatusClaim,
  type StatusClaimInput,
} from '@chorus-services/backbeat';
import { Buffer } from 'node:buffer';
import type { Subscription } from 'rxjs';

/** One job: an id (the claims' `taskId`), a budget in beats, and the work. */
export interface Job {
  id: string;
  budgetBeats: number;
  /** Should stop when `signal` aborts: the budget ran out (or the processor stopped). */
  work(signal: AbortSignal): Promise<unknown>;
}

/** How a job ended, and the claim that said so. */
export interface JobOutcome {
  job: string;
  state: 'done' | 'failed';
  notes: string;
  /** The final claim as sent; null when the processor stopped before it could be sent. */
  claim: StatusClaim | null;
}

/** Options of {@link runTaskProcessor}. */
export interface TaskProcessorOptions {
  natsUrl: string;
  clusterId: string;
  agentId?: string;
  /** Where lines go; `console.log` by default. */
  print?: (line: string) => void;
  /** Short connect timeout for demos; the client's default otherwise. */
  connectTimeoutMs?: number;
}

/** A running task processor. */
export interface TaskProcessor {
  client: BackbeatClient;
  /** Its public key (base64), for observers that verify its claims. */
  publicKey: string;
  /**
   * Runs `job` under its budget; resolves once its final claim is sent. Rejects only when
   * `job.id` is not a valid task id (`StatusClaimValidationError`).
   */
  submit(job: Job): Promise<JobOutcome>;
  stop(): Promise<void>;
}

/** Notes are at most 256 code points (docs/protocol.md section 5): keep the start of a long reason. */
function shortNotes(text: string): string {
  const codePoints = [...text];
  return codePoints.length <= 256 ? text : `${codePoints.slice(0, 255).join('')}…`;
}

/**
 * Starts the task processor.
 *
 * @param options Server, cluster, agent id and where to print.
 * @return The processor, to submit jobs to and to stop.
 */
export async function runTaskProcessor(options: TaskProcessorOptions): Promise<TaskProcessor> {
  const print = options.print ?? console.log;
  const agentId = options.agentId ?? `task-processor-${process.pid}`;
  const { secretKey, publicKey } = generateSigningKey();
  const client = createClient({
    clusterId: options.clusterId,
    agentId,
    natsUrl: options.natsUrl,
    signingKey: secretKey,
    ...(options.connectTimeoutMs ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
  });
  await client.start();

  /** Sends a claim about a job; after `stop()` there is no one left to tell. */
  async function claim(input: StatusClaimInput): Promise<StatusClaim | null> {
    try {
      return await client.emitStatusClaim(input);
    } catch (error) {
      if (error instanceof ClientStateError) return null;
      throw error;
    }
  }

  async function submit(job: Job): Promise<JobOutcome> {
    const startBeat = client.getCurrentBeat();
    print(`${job.id}: started at beat ${startBeat} (budget ${job.budgetBeats} beats)`);
    await claim({
      taskId: job.id,
      state: 'executing',
      beatsLeft: job.budgetBeats,
      progress: 0,
      notes: `budget ${job.budgetBeats} beats`,
    });
    let state: JobOutcome['state'];
    let notes: string;
    try {
      await client.withBeatBudget(job.budgetBeats, (signal) => job.work(signal));
      state = 'done';
      notes = `done in ${client.getCurrentBeat() - startBeat} of ${job.budgetBeats} beats`;
    } catch (error) {
      state = 'failed';
      notes =
        error instanceof BeatBudgetExceededError
          ? `budget of ${error.budget} beats exceeded at beat ${error.expiredAtBeat}`
          : `error: ${error instanceof Error ? error.message : String(error)}`;
    }
    notes = shortNotes(notes);
    print(`${job.id}: ${state} (${notes})`);
    const sent = await claim({
      taskId: job.id,
      state,
      beatsLeft: 0,
      progress: state === 'done' ? 1 : 0,
      notes,
    });
    return { job: job.id, state, notes, claim: sent };
  }

  return {
    client,
    publicKey: Buffer.from(publicKey).toString('base64'),
    submit,
    async stop() {
      await client.stop({ timeoutMs: 2000 });
    },
  };
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
function workFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}

/** How long demo jobs take, in beats, in turn: the last one is too slow for its budget of 2. */
const DEMO_JOB_BEATS = [0.5, 1.5, 4];

/**
 * Submits a demo job on each downbeat (a bar apart): each has a budget of 2 beats and takes,
 * in turn, half a beat, a beat and a half, or four beats.
 *
 * @param processor The processor to feed.
 * @return The subscription: unsubscribe to stop feeding it.
 */
export function startDemoJobs(processor: TaskProcessor): Subscription {
  let next = 0;
  return processor.client.onDownbeat((beat) => {
    const beats = DEMO_JOB_BEATS[next % DEMO_JOB_BEATS.length];
    const ms = (beats * 60_000) / beat.tempo_bpm;
    next++;
    return processor.submit({
      id: `demo-job-${next}`,
      budgetBeats: 2,
      work: (signal) => workFor(ms, signal),
    });
  });
}

if (require.main === module) {
  const natsUrl = process.env.NATS_URL ?? 'nats://localhost:4222';
  const clusterId = process.env.BACKBEAT_CLUSTER ?? 'chorus-dev';
  void runTaskProcessor({ natsUrl, clusterId }).then((processor) => {
    const feeding = startDemoJobs(processor);
    const quit = () => {
      feeding.unsubscribe();
      void processor.stop().then(() => process.exit(0));
    };
    process.once('SIGINT', quit);
    process.once('SIGTERM', quit);
  });
}
