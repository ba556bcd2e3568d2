/**
 * Ed25519 sign and verify throughput of the SDK (node:crypto) against tweetnacl, the baseline,
 * measured in the same run on a status-claim-sized payload (~300 bytes).
 *
 * Run: `npm run bench:sign` (optional argument or SIGN_MS: ms per measurement, default 1500;
 * BENCH_QUICK=1: 200).
 * Prints `{ nodeCrypto: { signPerSec, verifyPerSec }, tweetnacl: { … }, ratio: { sign, verify } }`.
 */
import { performance } from 'node:perf_hooks';
import nacl from 'tweetnacl';
import { generateSigningKey, parseSigningKey } from '../lib/crypto/keys';
import { signBytes, verifyBytes } from '../lib/crypto/signature';
import { sized } from './support';

const durationMs = process.argv[2] ? Number(process.argv[2]) : sized('SIGN_MS', 1500, 200);

/** Operations per second of `operation`, run repeatedly for about `durationMs`. */
function perSecond(operation: () => unknown): number {
  for (let i = 0; i < 20; i++) operation(); // warm up the JIT and the key caches
  let count = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < durationMs) {
    // Batches of 10 keep the clock reads out of the measurement.
    for (let i = 0; i < 10; i++) operation();
    count += 10;
    elapsed = performance.now() - start;
  }
  return Math.round((count * 1000) / elapsed);
}

const payload = new TextEncoder().encode(
  JSON.stringify({
    type: 'backbeat.statusclaim.v1',
    cluster_id: 'chorus-dev',
    agent_id: 'my-service',
    task_id: 'task-0123456789abcdef',
    beat_index: 41,
    window_id: 'e6b31da7f5eb743a89765e7c59b69740',
    state: 'executing',
    beats_left: 5,
    progress: 0.3,
    notes: 'Processing data for the nightly report run',
    hlc: '018bcfe56800:0001:my-service',
  }),
);

const key = parseSigningKey(generateSigningKey().secretKey);
const signature = signBytes(key, payload);
if (!nacl.sign.detached.verify(payload, signature, key.publicKey)) {
  throw new Error('node:crypto and tweetnacl disagree: nothing to compare');
}

const nodeCrypto = {
  signPerSec: perSecond(() => signBytes(key, payload)),
  verifyPerSec: perSecond(() => verifyBytes(key.publicKey, payload, signature)),
};
const tweetnacl = {
  signPerSec: perSecond(() => nacl.sign.detached(payload, key.secretKey)),
  verifyPerSec: perSecond(() => nacl.sign.detached.verify(payload, signature, key.publicKey)),
};
const ratio = {
  sign: Math.round((nodeCrypto.signPerSec / tweetnacl.signPerSec) * 10) / 10,
  verify: Math.round((nodeCrypto.verifyPerSec / tweetnacl.verifyPerSec) * 10) / 10,
};

console.log(
  JSON.stringify(
    { payloadBytes: payload.length, durationMs, nodeCrypto, tweetnacl, ratio },
    null,
    2,
  ),
);
