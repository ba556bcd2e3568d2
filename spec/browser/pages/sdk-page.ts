/**
 * The page of spec/browser/sdk.spec.ts: the SDK's browser build (lib/ with its *.browser.ts
 * edges) and nats.ws, put on `window.backbeatTest` for the spec's `page.evaluate` calls.
 */
import { connect } from 'nats.ws';
import { firstValueFrom, from, toArray } from 'rxjs';
import { createClient, verifyStatus, windowIdFor, type BackbeatClient } from '../../../lib/index';
import { decodeStrictBase64, encodeBase64 } from '../../../lib/crypto/base64';
import { parseSigningKey } from '../../../lib/crypto/keys';
import { signBytes, verifyBytes } from '../../../lib/crypto/signature';

/** What the page saw of one client: beats, health changes and claim verdicts, in order. */
interface Recording {
  beats: { index: number; source: string }[];
  degraded: boolean[];
  verdicts: { ok: boolean; reason?: string; agent?: string; progress?: number }[];
}

const clients = new Map<string, BackbeatClient>();
const recordings = new Map<string, Recording>();
const utf8 = new TextEncoder();

const base64 = (text: string): Uint8Array<ArrayBuffer> => {
  const bytes = decodeStrictBase64(text, Math.floor((text.replace(/=+$/, '').length * 3) / 4));
  if (bytes === null) throw new Error(`not base64: ${text}`);
  return new Uint8Array(bytes);
};

/** Ed25519 through WebCrypto, for the rates beside the SDK's tweetnacl edge. */
async function webCryptoKeys(seedHex: string, publicKeyB64: string) {
  const seed = Uint8Array.from(seedHex.match(/../g)!, (hex) => parseInt(hex, 16));
  const pkcs8 = new Uint8Array([
    ...[
      0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
      0x20,
    ],
    ...seed,
  ]);
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, 'Ed25519', false, ['sign']);
  const publicKey = await crypto.subtle.importKey('raw', base64(publicKeyB64), 'Ed25519', false, [
    'verify',
  ]);
  return { privateKey, publicKey };
}

/** Operations per second of `op` over `rounds` rounds of `items`. */
async function rate<T>(
  items: readonly T[],
  rounds: number,
  op: (item: T) => unknown,
): Promise<number> {
  for (const item of items) await op(item); // warm up the JIT
  const started = performance.now();
  for (let round = 0; round < rounds; round++) for (const item of items) await op(item);
  return (items.length * rounds * 1000) / (performance.now() - started);
}

const backbeatTest = {
  /** Starts a client on a nats.ws connection and records what it delivers. */
  async startClient(
    name: string,
    options: {
      wsUrl: string;
      clusterId: string;
      agentId: string;
      signingKey?: string;
      trustedKeys?: Record<string, string>;
    },
  ): Promise<void> {
    const connection = await connect({ servers: options.wsUrl, name });
    const client = createClient({
      clusterId: options.clusterId,
      agentId: options.agentId,
      connection,
      ...(options.signingKey !== undefined && { signingKey: options.signingKey }),
    });
    const recording: Recording = { beats: [], degraded: [], verdicts: [] };
    client.beat$.subscribe((beat) =>
      recording.beats.push({ index: beat.beat_index, source: beat.source }),
    );
    client.health$.subscribe((health) => recording.degraded.push(health.localDegradation));
    clients.set(name, client);
    recordings.set(name, recording);
    await client.start();
    if (options.trustedKeys !== undefined) {
      client
        .statusClaims$({ trustedKeys: options.trustedKeys })
        .subscribe((verdict) =>
          recording.verdicts.push(
            verdict.ok
              ? { ok: true, agent: verdict.claim.agent_id, progress: verdict.claim.progress }
              : { ok: false, reason: verdict.reason },
          ),
        );
    }
  },

  recording(name: string): Recording {
    return recordings.get(name)!;
  },

  /** A claim from a page client, signed in the browser when it has a key. */
  async emit(name: string, progress: number): Promise<void> {
    await clients
      .get(name)!
      .emitStatusClaim({ state: 'executing', beatsLeft: 3, progress, notes: 'from the browser' });
  },

  async stopAll(): Promise<void> {
    await Promise.all([...clients.values()].map((client) => client.stop({ timeoutMs: 1000 })));
    clients.clear();
  },

  /** The signature vectors: each signature as the browser makes it, and verifications. */
  signatureVectors(vectors: {
    seed_hex: string;
    secret_key_64_b64: string;
    public_key_b64: string;
    cases: { payload: string; signature_b64: string }[];
    tampered: { payload: string; signature_b64: string };
  }) {
    const key = parseSigningKey(vectors.secret_key_64_b64);
    const publicKey = base64(vectors.public_key_b64);
    return {
      publicKey: key.publicKeyBase64,
      signatures: vectors.cases.map((c) => encodeBase64(signBytes(key, utf8.encode(c.payload)))),
      verified: vectors.cases.map((c) =>
        verifyBytes(publicKey, utf8.encode(c.payload), base64(c.signature_b64)),
      ),
      tamperedVerified: verifyBytes(
        publicKey,
        utf8.encode(vectors.tampered.payload),
        base64(vectors.tampered.signature_b64),
      ),
    };
  },

  /** The verify vectors through the browser's `verifyStatus`, one observer, in order. */
  async verifyVectors(vectors: {
    agent_id: string;
    trusted_key_b64: string;
    now_ms: number;
    steps: { subject: string; payload: string; headers: Record<string, string | undefined> }[];
  }): Promise<string[]> {
    const verdicts = await firstValueFrom(
      from(
        vectors.steps.map((step) => ({
          subject: step.subject,
          data: step.payload,
          headers: Object.fromEntries(
            Object.entries(step.headers).filter(
              (entry): entry is [string, string] => entry[1] !== undefined,
            ),
          ),
        })),
      ).pipe(
        verifyStatus({
          trustedKeys: { [vectors.agent_id]: vectors.trusted_key_b64 },
          physicalNow: () => vectors.now_ms,
        }),
        toArray(),
      ),
    );
    return verdicts.map((verdict) => (verdict.ok ? 'ok' : verdict.reason));
  },

  /** Window ids made by the browser's SHA-256 edge. */
  windowIds(cases: { cluster_id: string; beat_index: number; beats_per_bar?: number }[]): string[] {
    return cases.map((c) => windowIdFor(c.cluster_id, c.beat_index, c.beats_per_bar));
  },

  /**
   * Signing and verification rates over the signature vectors: the SDK's edge (tweetnacl,
   * synchronous) and WebCrypto's Ed25519 (asynchronous), whose signatures must be the same.
   */
  async rates(
    vectors: {
      seed_hex: string;
      secret_key_64_b64: string;
      public_key_b64: string;
      cases: { payload: string; signature_b64: string }[];
    },
    rounds: number,
  ) {
    const key = parseSigningKey(vectors.secret_key_64_b64);
    const publicKey = base64(vectors.public_key_b64);
    const cases = vectors.cases.map((c) => ({
      bytes: utf8.encode(c.payload),
      signature: base64(c.signature_b64),
    }));
    const web = await webCryptoKeys(vectors.seed_hex, vectors.public_key_b64);
    const webSignatures = await Promise.all(
      cases.map(async (c) =>
        encodeBase64(new Uint8Array(await crypto.subtle.sign('Ed25519', web.privateKey, c.bytes))),
      ),
    );
    return {
      webCryptoSignaturesMatch: webSignatures.every((s, i) => s === vectors.cases[i].signature_b64),
      sdkSign: await rate(cases, rounds, (c) => signBytes(key, c.bytes)),
      sdkVerify: await rate(cases, rounds, (c) => verifyBytes(publicKey, c.bytes, c.signature)),
      webCryptoSign: await rate(cases, rounds, (c) =>
        crypto.subtle.sign('Ed25519', web.privateKey, c.bytes),
      ),
      webCryptoVerify: await rate(cases, rounds, (c) =>
        crypto.subtle.verify('Ed25519', web.publicKey, c.signature, c.bytes),
      ),
    };
  },
};

/** A verify vector step as a claim message. */
type VerifyStep = { subject: string; payload: string; headers: Record<string, string | undefined> };
const asMessage = (step: VerifyStep) => ({
  subject: step.subject,
  data: utf8.encode(step.payload),
  headers: Object.fromEntries(
    Object.entries(step.headers).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    ),
  ),
});

const measures = {
  /**
   * WebCrypto's verdicts against the SDK's synchronous edge (tweetnacl and the S < L check) on
   * `count` corruptions of the vectors' signature, key or payload: the disagreements.
   */
  async agreement(
    vectors: { public_key_b64: string; cases: { payload: string; signature_b64: string }[] },
    count: number,
  ): Promise<string[]> {
    const disagreements: string[] = [];
    for (let i = 0; i < count; i++) {
      const c = vectors.cases[i % vectors.cases.length];
      const publicKey = base64(vectors.public_key_b64);
      const signature = base64(c.signature_b64);
      const bytes = utf8.encode(c.payload);
      const target = [signature, publicKey, bytes][i % 3];
      target[(i * 7) % target.length] ^= 1 << (i % 8);
      const sync = verifyBytes(publicKey, bytes, signature);
      let web: boolean;
      try {
        const key = await crypto.subtle.importKey('raw', publicKey, 'Ed25519', false, ['verify']);
        web = await crypto.subtle.verify('Ed25519', key, signature, bytes);
      } catch {
        web = false;
      }
      if (sync !== web) disagreements.push(`case ${i}: sdk ${sync}, WebCrypto ${web}`);
    }
    return disagreements;
  },

  /** Claim messages through `verifyStatus` per second: the vectors' first step, `count` times. */
  async claimRate(
    vectors: { agent_id: string; trusted_key_b64: string; now_ms: number; steps: VerifyStep[] },
    count: number,
  ): Promise<{ perSecond: number; verdicts: Record<string, number> }> {
    const message = asMessage(vectors.steps[0]);
    const started = performance.now();
    const verdicts = await firstValueFrom(
      from(Array.from({ length: count }, () => message)).pipe(
        verifyStatus({
          trustedKeys: { [vectors.agent_id]: vectors.trusted_key_b64 },
          physicalNow: () => vectors.now_ms,
        }),
        toArray(),
      ),
    );
    const perSecond = (count * 1000) / (performance.now() - started);
    const counts: Record<string, number> = {};
    for (const v of verdicts)
      counts[v.ok ? 'ok' : v.reason] = (counts[v.ok ? 'ok' : v.reason] ?? 0) + 1;
    return { perSecond, verdicts: counts };
  },
};

declare global {
  interface Window {
    backbeatTest: typeof backbeatTest & typeof measures;
  }
}
window.backbeatTest = { ...backbeatTest, ...measures };
document.body.dataset.ready = 'true';
