/**
 * Status claims end to end: validated, filled, signed and published claims per second
 * (`validateClaimInput`, `sealClaim` and `StatusPublisher.publish` per claim, then one `flush`), against two baselines
 * in the same run:
 * - `rawNats`: a hand-written nats.js publisher that JSON-encodes a payload of the same size,
 *   signs it with node:crypto and publishes it with the same six headers (the same wire bytes,
 *   without validation, HLC, buffering or bookkeeping);
 * - `tweetnaclSign`: tweetnacl's `sign.detached` alone over payloads of the same size.
 * Goals: at least 0.8× `rawNats` and 50× `tweetnaclSign`. `awaitedEach` repeats the first two
 * with a microtask yield after each message on both sides (as a caller awaiting
 * `emitStatusClaim` yields): nats.js then writes to the socket once per message. Rounds alternate between the forms
 * and each figure is the median round. Needs a nats-server: NATS_URL, or one started here.
 * Run: `npm run bench:claims` (CLAIMS_PER_ROUND, CLAIMS_ROUNDS; BENCH_QUICK=1: smaller rounds).
 */
import { sign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { connect, headers as natsHeaders, type NatsConnection } from 'nats';
import nacl from 'tweetnacl';
import { sealClaim } from '../lib/claims/seal-claim';
import { validateClaimInput } from '../lib/claims/validate-claim-input';
import { makeDefaultTaskId } from '../lib/claims/default-task-id';
import { HybridLogicalClock } from '../lib/clock/hlc';
import { encodeBase64 } from '../lib/crypto/base64';
import { generateSigningKey, parseSigningKey } from '../lib/crypto/keys';
import { statusSubject } from '../lib/protocol/subjects';
import { windowIdFor } from '../lib/protocol/windows';
import { StatusPublisher } from '../lib/transport/status-publisher';
import { startNatsServer, stopAllNatsServers } from '../spec/support/nats-server';
import { sized } from './support';

const CLUSTER = 'bench';
const AGENT = 'bench-agent';
const CLAIMS_PER_ROUND = sized('CLAIMS_PER_ROUND', 20_000, 2_000);
const NACL_SIGNS_PER_ROUND = sized('NACL_SIGNS_PER_ROUND', 500, 100);
const ROUNDS = sized('CLAIMS_ROUNDS', 5, 3);

const key = parseSigningKey(generateSigningKey().secretKey);
const beat = { beat_index: 41, window_id: windowIdFor(CLUSTER, 41) };
const input = {
  state: 'executing',
  beatsLeft: 5,
  progress: 0.3,
  notes: 'Processing data',
  waitFor: ['job-1'],
};
const utf8 = new TextEncoder();

function fail(error: unknown): never {
  throw error;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Claims per second through validateClaimInput, sealClaim and the publisher. */
async function sdkRound(nc: NatsConnection, awaitEach: boolean): Promise<number> {
  const clock = new HybridLogicalClock(AGENT);
  const publisher = new StatusPublisher({ delivery: 'core', bufferSize: 1024 });
  publisher.attach(nc);
  const ctx = {
    clusterId: CLUSTER,
    agentId: AGENT,
    defaultTaskId: makeDefaultTaskId(),
    beat,
    signingKey: key,
  };
  const start = performance.now();
  for (let i = 0; i < CLAIMS_PER_ROUND; i++) {
    const sent = publisher.publish(
      sealClaim(validateClaimInput(input), { ...ctx, hlc: clock.tick() }),
    );
    if (awaitEach) await sent;
    else sent.catch(fail);
  }
  await publisher.flush();
  const elapsed = performance.now() - start;
  await publisher.drain(1000);
  return (CLAIMS_PER_ROUND / elapsed) * 1000;
}

/** Payloads per second through a raw nats.js publisher signing with node:crypto. */
async function rawRound(nc: NatsConnection, awaitEach: boolean): Promise<number> {
  const subject = statusSubject(CLUSTER, AGENT);
  const keyObject = key.privateKeyObject!;
  const start = performance.now();
  for (let i = 0; i < CLAIMS_PER_ROUND; i++) {
    const hlc = `018bcfe56800:${(i % 0xffff).toString(16).padStart(4, '0')}:${AGENT}`;
    const payload = utf8.encode(
      JSON.stringify({
        type: 'backbeat.statusclaim.v1',
        cluster_id: CLUSTER,
        agent_id: AGENT,
        task_id: 'task-0123456789abcdef',
        beat_index: beat.beat_index,
        window_id: beat.window_id,
        state: input.state,
        wait_for: input.waitFor,
        beats_left: input.beatsLeft,
        progress: input.progress,
        notes: input.notes,
        hlc,
      }),
    );
    const hdrs = natsHeaders();
    hdrs.set('x-agent-id', AGENT);
    hdrs.set('x-window-id', beat.window_id);
    hdrs.set('x-hlc', hlc);
    hdrs.set('Nats-Msg-Id', `${AGENT}:${hlc}`);
    hdrs.set('x-signature', encodeBase64(sign(null, payload, keyObject)));
    hdrs.set('x-public-key', key.publicKeyBase64);
    nc.publish(subject, payload, { headers: hdrs });
    if (awaitEach) await Promise.resolve();
  }
  await nc.flush();
  return (CLAIMS_PER_ROUND / (performance.now() - start)) * 1000;
}

/** Signatures per second with tweetnacl alone. */
function naclRound(payload: Uint8Array): number {
  const start = performance.now();
  for (let i = 0; i < NACL_SIGNS_PER_ROUND; i++) nacl.sign.detached(payload, key.secretKey);
  return (NACL_SIGNS_PER_ROUND / (performance.now() - start)) * 1000;
}

async function main(): Promise<void> {
  const server = process.env.NATS_URL ? null : await startNatsServer();
  const url = process.env.NATS_URL ?? server!.url;
  const nc = await connect({ servers: url });
  try {
    const clock = new HybridLogicalClock(AGENT);
    const sample = sealClaim(validateClaimInput(input), {
      clusterId: CLUSTER,
      agentId: AGENT,
      defaultTaskId: makeDefaultTaskId(),
      beat,
      hlc: clock.tick(),
      signingKey: key,
    });
    // Warm-up: JIT and connection buffers.
    await sdkRound(nc, false);
    await rawRound(nc, false);
    naclRound(sample.payload);
    const rounds = {
      sdk: [] as number[],
      raw: [] as number[],
      sdkAwaited: [] as number[],
      rawAwaited: [] as number[],
      tweetnacl: [] as number[],
    };
    for (let round = 0; round < ROUNDS; round++) {
      rounds.sdk.push(await sdkRound(nc, false));
      rounds.raw.push(await rawRound(nc, false));
      rounds.sdkAwaited.push(await sdkRound(nc, true));
      rounds.rawAwaited.push(await rawRound(nc, true));
      rounds.tweetnacl.push(naclRound(sample.payload));
    }
    const claimsPerSecond = median(rounds.sdk);
    const rawNatsPerSecond = median(rounds.raw);
    const awaitedClaimsPerSecond = median(rounds.sdkAwaited);
    const awaitedRawNatsPerSecond = median(rounds.rawAwaited);
    const tweetnaclSignsPerSecond = median(rounds.tweetnacl);
    console.log(
      JSON.stringify(
        {
          bench: 'claims',
          node: process.version,
          server: server ? 'started by the bench' : 'NATS_URL',
          payloadBytes: sample.payload.byteLength,
          claimsPerRound: CLAIMS_PER_ROUND,
          rounds: ROUNDS,
          claimsPerSecond: Math.round(claimsPerSecond),
          rawNatsPerSecond: Math.round(rawNatsPerSecond),
          tweetnaclSignsPerSecond: Math.round(tweetnaclSignsPerSecond),
          vsRawNats: Number((claimsPerSecond / rawNatsPerSecond).toFixed(2)),
          vsTweetnacl: Number((claimsPerSecond / tweetnaclSignsPerSecond).toFixed(1)),
          awaitedEach: {
            claimsPerSecond: Math.round(awaitedClaimsPerSecond),
            rawNatsPerSecond: Math.round(awaitedRawNatsPerSecond),
            vsRawNats: Number((awaitedClaimsPerSecond / awaitedRawNatsPerSecond).toFixed(2)),
          },
          goals: {
            atLeast0_8xRawNats: claimsPerSecond >= 0.8 * rawNatsPerSecond,
            atLeast50xTweetnacl: claimsPerSecond >= 50 * tweetnaclSignsPerSecond,
          },
        },
        null,
        2,
      ),
    );
  } finally {
    await nc.close();
    await stopAllNatsServers();
  }
}

void main();
