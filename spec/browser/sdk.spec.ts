/**
 * The SDK's browser build in a real headless Chromium, against a real nats-server through its
 * WebSocket listener (nats.ws): beats, degradation and recovery, the shared vectors, claims
 * verified in the page and claims signed in the page verified on Node.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import type { Browser, Page } from 'playwright-core';
import { filter, firstValueFrom, from, toArray, type Observable } from 'rxjs';
import { createClient, type BackbeatClient } from '../../lib/client';
import { encodeBase64 } from '../../lib/crypto/base64';
import { generateSigningKey } from '../../lib/crypto/keys';
import { signBytes, verifyBytes } from '../../lib/crypto/signature';
import { parseSigningKey } from '../../lib/crypto/keys';
import { verifyStatus, type StatusVerdict } from '../../lib/operators/verify-status';
import { startPulse, type Pulse } from '../../lib/pulse/pulse';
import { statusSubject } from '../../lib/protocol/subjects';
import { buildPageScript } from '../../scripts/browser-build';
import signatureVectors from '../fixtures/vectors/signatures.json';
import verifyVectors from '../fixtures/vectors/verify.json';
import windowVectors from '../fixtures/vectors/windows.json';
import type { NatsServerHandle } from '../support/nats-server';
import { launchChromium, serveDirectory, startWebSocketNats } from './browser-support';

type Recording = ReturnType<Window['backbeatTest']['recording']>;

let server: NatsServerHandle;
let wsUrl: string;
let browser: Browser;
let page: Page;
let pageDir: string;
let site: { url: string; close: () => Promise<void> };
const pulses: Pulse[] = [];
const nodeClients: BackbeatClient[] = [];

beforeAll(async () => {
  pageDir = mkdtempSync(join(tmpdir(), 'backbeat-browser-'));
  const built = buildPageScript(join(__dirname, 'pages', 'sdk-page.ts'), join(pageDir, 'page.js'));
  writeFileSync(
    join(pageDir, 'index.html'),
    '<!doctype html><meta charset="utf-8"><body><script type="module" src="page.js"></script></body>',
  );
  ({ server, wsUrl } = await startWebSocketNats());
  browser = await launchChromium();
  await built;
  site = await serveDirectory(pageDir);
  page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(site.url);
  await page
    .waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 20_000 })
    .catch((error) => {
      throw new Error(`the test page did not load: ${errors.join('; ') || String(error)}`);
    });
});

afterEach(async () => {
  await page.evaluate(() => window.backbeatTest.stopAll());
  await Promise.all(pulses.splice(0).map((pulse) => pulse.stop()));
  await Promise.all(nodeClients.splice(0).map((client) => client.stop({ timeoutMs: 1000 })));
});

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await server?.stop();
  rmSync(pageDir, { recursive: true, force: true });
});

async function pulse(clusterId: string, startIndex = 0): Promise<Pulse> {
  const started = await startPulse({ clusterId, natsUrl: server.url, tempoBpm: 300, startIndex });
  pulses.push(started);
  return started;
}

/**
 * Resolves once the page's recording of client `name` satisfies `predicate` (no sleeping). The
 * predicate runs in the page: it may use only its arguments.
 */
async function recordingWhere<T = undefined>(
  name: string,
  predicate: (recording: Recording, arg: T) => boolean,
  arg?: T,
): Promise<Recording> {
  const test = `(${predicate.toString()})(window.backbeatTest.recording(${JSON.stringify(name)}), ${JSON.stringify(arg ?? null)})`;
  await page.waitForFunction(test, undefined, { timeout: 20_000, polling: 50 });
  return page.evaluate((client) => window.backbeatTest.recording(client), name);
}

describe('the browser build in Chromium', () => {
  it('follows a dev pulse over WebSocket, degrades when it stops and recovers when it returns', async () => {
    const clusterId = 'browser-follow';
    const first = await pulse(clusterId);
    await page.evaluate((options) => window.backbeatTest.startClient('follower', options), {
      wsUrl,
      clusterId,
      agentId: 'page-follower',
    });

    const following = await recordingWhere(
      'follower',
      (r) => r.beats.filter((b) => b.source === 'pulse').length >= 6,
    );
    const pulseBeats = following.beats.filter((beat) => beat.source === 'pulse');
    for (let i = 1; i < pulseBeats.length; i++) {
      expect(pulseBeats[i].index).toBeGreaterThan(pulseBeats[i - 1].index);
    }
    expect(following.degraded.at(-1)).toBe(false);

    await first.stop();
    const degraded = await recordingWhere(
      'follower',
      (r) => r.degraded.at(-1) === true && r.beats.at(-1)?.source === 'synthetic',
    );
    const lastIndex = degraded.beats.at(-1)!.index;

    await pulse(clusterId, lastIndex + 20);
    const recovered = await recordingWhere(
      'follower',
      (r, from) =>
        r.degraded.at(-1) === false && r.beats.some((b) => b.source === 'pulse' && b.index >= from),
      lastIndex + 20,
    );
    const all = recovered.beats.map((beat) => beat.index);
    for (let i = 1; i < all.length; i++) expect(all[i]).toBeGreaterThan(all[i - 1]);
  });

  it('signs the signature vectors byte for byte as Node does, and verifies them', async () => {
    const result = await page.evaluate(
      (v) => window.backbeatTest.signatureVectors(v),
      signatureVectors,
    );
    expect(result.publicKey).toBe(signatureVectors.public_key_b64);
    expect(result.signatures).toEqual(signatureVectors.cases.map((c) => c.signature_b64));
    expect(result.verified).toEqual(signatureVectors.cases.map(() => true));
    expect(result.tamperedVerified).toBe(signatureVectors.tampered.valid);
  });

  it('gives the verify vectors the same verdicts as Node, and the window ids the same ids', async () => {
    const verdicts = await page.evaluate(
      (v) => window.backbeatTest.verifyVectors(v),
      verifyVectors,
    );
    expect(verdicts).toEqual(verifyVectors.steps.map((step) => step.verdict));
    const windowIds = await page.evaluate(
      (cases) => window.backbeatTest.windowIds(cases),
      windowVectors.cases,
    );
    expect(windowIds).toEqual(windowVectors.cases.map((c) => c.window_id));
  });

  it('verifies a claim signed on Node ok, and refuses a forged one as bad-signature', async () => {
    const clusterId = 'browser-verify';
    const key = generateSigningKey();
    const publicKey = encodeBase64(key.publicKey);
    await pulse(clusterId);
    const agent = createClient({
      clusterId,
      agentId: 'node-agent',
      natsUrl: server.url,
      signingKey: key.secretKey,
    });
    nodeClients.push(agent);
    await agent.start();
    await page.evaluate((options) => window.backbeatTest.startClient('observer', options), {
      wsUrl,
      clusterId,
      agentId: 'page-observer',
      trustedKeys: { 'node-agent': publicKey },
    });

    // The genuine claim, and its bytes captured off the wire to forge from.
    const raw = await connect({ servers: server.url });
    try {
      const wire = raw.subscribe(statusSubject(clusterId, 'node-agent'), { max: 1 });
      await raw.flush();
      await agent.emitStatusClaim({ state: 'executing', beatsLeft: 4, progress: 0.25 });
      const genuine = await recordingWhere('observer', (r) => r.verdicts.length >= 1);
      expect(genuine.verdicts).toEqual([{ ok: true, agent: 'node-agent', progress: 0.25 }]);

      let captured:
        { data: Uint8Array; headers: NonNullable<import('nats').Msg['headers']> } | undefined;
      for await (const message of wire)
        captured = { data: message.data, headers: message.headers! };
      const forged = new TextDecoder()
        .decode(captured!.data)
        .replace('"progress":0.25', '"progress":0.95');
      raw.publish(statusSubject(clusterId, 'node-agent'), forged, { headers: captured!.headers });
      await raw.flush();
    } finally {
      await raw.close();
    }
    const after = await recordingWhere('observer', (r) => r.verdicts.length >= 2);
    expect(after.verdicts[1]).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('signs a claim in the page that verifyStatus on Node accepts', async () => {
    const clusterId = 'browser-sign';
    const key = generateSigningKey();
    await pulse(clusterId);
    const raw: NatsConnection = await connect({ servers: server.url });
    try {
      const verdicts: Observable<StatusVerdict> = from(
        raw.subscribe(statusSubject(clusterId, 'page-agent')),
      ).pipe(verifyStatus({ trustedKeys: { 'page-agent': key.publicKey } }));
      const firstVerdict = firstValueFrom(verdicts.pipe(filter(() => true)));
      await raw.flush();
      await page.evaluate((options) => window.backbeatTest.startClient('signer', options), {
        wsUrl,
        clusterId,
        agentId: 'page-agent',
        signingKey: encodeBase64(key.secretKey),
      });
      await recordingWhere('signer', (r) => r.beats.length >= 1);
      await page.evaluate(() => window.backbeatTest.emit('signer', 0.5));
      const verdict = await firstVerdict;
      expect(verdict.ok && verdict.claim).toMatchObject({ agent_id: 'page-agent', progress: 0.5 });
    } finally {
      await raw.close();
    }
  });

  it('verifies through WebCrypto exactly as through the SDK edge, on corrupted signatures, keys and payloads', async () => {
    const disagreements = await page.evaluate(([v, n]) => window.backbeatTest.agreement(v, n), [
      signatureVectors,
      300,
    ] as const);
    expect(disagreements).toEqual([]);
  });

  it('judges claims through verifyStatus in the page, WebCrypto verifying ahead, as on Node', async () => {
    const count = 400;
    const web = await page.evaluate(([v, n]) => window.backbeatTest.claimRate(v, n), [
      verifyVectors,
      count,
    ] as const);
    // The same message again and again: accepted once, then a duplicate (verified each time).
    expect(web.verdicts).toEqual({ ok: 1, duplicate: count - 1 });
    const step = verifyVectors.steps[0];
    const message = {
      subject: step.subject,
      data: new TextEncoder().encode(step.payload),
      headers: step.headers as Record<string, string>,
    };
    const started = performance.now();
    const verdicts = await firstValueFrom(
      from(Array.from({ length: count }, () => message)).pipe(
        verifyStatus({
          trustedKeys: { [verifyVectors.agent_id]: verifyVectors.trusted_key_b64 },
          physicalNow: () => verifyVectors.now_ms,
        }),
        toArray(),
      ),
    );
    const nodeRate = (count * 1000) / (performance.now() - started);
    expect(verdicts.filter((v) => v.ok)).toHaveLength(1);
    process.stdout.write(
      `verifyStatus over ${count} signed claim messages: Node ${Math.round(nodeRate)}/s, Chromium (WebCrypto ahead) ${Math.round(web.perSecond)}/s\n`,
    );
  });

  it('measures signing and verification rates beside Node on the same vectors', async () => {
    const rounds = 50;
    const web = await page.evaluate(([v, n]) => window.backbeatTest.rates(v, n), [
      signatureVectors,
      rounds,
    ] as const);
    expect(web.webCryptoSignaturesMatch).toBe(true);
    const key = parseSigningKey(signatureVectors.secret_key_64_b64);
    const publicKey = key.publicKey;
    const cases = signatureVectors.cases.map((c) => ({
      bytes: new TextEncoder().encode(c.payload),
      signature: Uint8Array.from(Buffer.from(c.signature_b64, 'base64')),
    }));
    const rate = (op: (c: (typeof cases)[number]) => unknown) => {
      for (const c of cases) op(c); // warm up
      const started = performance.now();
      for (let round = 0; round < rounds; round++) for (const c of cases) op(c);
      return (cases.length * rounds * 1000) / (performance.now() - started);
    };
    const node = {
      sign: rate((c) => signBytes(key, c.bytes)),
      verify: rate((c) => verifyBytes(publicKey, c.bytes, c.signature)),
    };
    const perSecond = (n: number) => `${Math.round(n)}/s`;
    process.stdout.write(
      `Ed25519 over the ${cases.length} signature vectors × ${rounds}: ` +
        `Node (node:crypto) sign ${perSecond(node.sign)}, verify ${perSecond(node.verify)}; ` +
        `Chromium SDK edge (tweetnacl) sign ${perSecond(web.sdkSign)}, verify ${perSecond(web.sdkVerify)}; ` +
        `Chromium WebCrypto sign ${perSecond(web.webCryptoSign)}, verify ${perSecond(web.webCryptoVerify)}\n`,
    );
    for (const value of [web.sdkSign, web.sdkVerify, web.webCryptoSign, web.webCryptoVerify]) {
      expect(value).toBeGreaterThan(0);
    }
  });
});
