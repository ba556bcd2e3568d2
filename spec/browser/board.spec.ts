/**
 * `backbeat board` in a real headless Chromium: the command serves the page, the page follows
 * a dev pulse and the agents' claims through nats-server's WebSocket listener, and a screenshot
 * of it lands in test-output/browser/board.png. Two trusted agents claim on every beat, one
 * agent's key is not trusted, and one falls silent after a single claim.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { createClient, type BackbeatClient } from '../../lib/client';
import { encodeBase64 } from '../../lib/crypto/base64';
import { generateSigningKey } from '../../lib/crypto/keys';
import { startPulse, type Pulse } from '../../lib/pulse/pulse';
import { buildBoardPage } from '../../scripts/browser-build';
import { runCli, type CliRun } from '../cli/cli-harness';
import type { NatsServerHandle } from '../support/nats-server';
import { launchChromium, outputDir, startWebSocketNats } from './browser-support';

const CLUSTER = 'board-demo';

let server: NatsServerHandle;
let wsUrl: string;
let browser: Browser;
let workDir: string;
let board: CliRun | undefined;
let pulse: Pulse | undefined;
const agents: BackbeatClient[] = [];

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'backbeat-board-'));
  ({ server, wsUrl } = await startWebSocketNats());
  browser = await launchChromium();
  await buildBoardPage(join(workDir, 'page'));
});

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.stop({ timeoutMs: 1000 })));
  await pulse?.stop();
  board?.stop();
  await board?.code;
  await browser?.close();
  await server?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

/** An agent that claims progress on every beat, signed with `key`. */
async function chattyAgent(agentId: string, key: Uint8Array, state: 'executing' | 'waiting') {
  const agent = createClient({ clusterId: CLUSTER, agentId, natsUrl: server.url, signingKey: key });
  agents.push(agent);
  let progress = 0;
  agent.onBeat(() => {
    progress = Math.min(1, progress + 0.07);
    agent
      .emitStatusClaim({
        state,
        beatsLeft: Math.round((1 - progress) * 14),
        progress,
        taskId: `${agentId}-task`,
      })
      .catch(() => undefined); // a claim refused at stop() is no failure here
  });
  await agent.start();
  return agent;
}

/** The number the page shows as the current beat, or -1 before any. */
async function pageBeat(page: Page): Promise<number> {
  const text = await page.textContent('#beat-index');
  return /^\d+$/.test(text ?? '') ? Number(text) : -1;
}

/** The distinct colours of a PNG and the share of its most common one, measured by the page. */
async function pictureStats(
  page: Page,
  png: Buffer,
): Promise<{ colours: number; topShare: number }> {
  return page.evaluate(async (base64) => {
    const image = new Image();
    image.src = `data:image/png;base64,${base64}`;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext('2d')!;
    context.drawImage(image, 0, 0);
    const { data } = context.getImageData(0, 0, image.width, image.height);
    const counts = new Map<number, number>();
    for (let i = 0; i < data.length; i += 4) {
      const colour = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
      counts.set(colour, (counts.get(colour) ?? 0) + 1);
    }
    return { colours: counts.size, topShare: Math.max(...counts.values()) / (data.length / 4) };
  }, png.toString('base64'));
}

it('shows the beat, the lateness strip and every agent with its state and verdict', async () => {
  const trusted = generateSigningKey();
  const stranger = generateSigningKey();
  const keysFile = join(workDir, 'trusted.json');
  writeFileSync(
    keysFile,
    JSON.stringify({
      'agent-ok': encodeBase64(trusted.publicKey),
      'agent-quiet': encodeBase64(trusted.publicKey),
      'agent-waiting': encodeBase64(trusted.publicKey),
      'agent-stranger': encodeBase64(generateSigningKey().publicKey),
    }),
  );
  board = runCli(
    ['board', '--cluster', CLUSTER, '--nats', wsUrl, '--port', '0', '--trusted-keys', keysFile],
    { BACKBEAT_BOARD_ASSETS: join(workDir, 'page') },
  );
  await Promise.race([
    board.stdout.until((out) => /http:\/\/\S+\//.test(out.text)),
    board.code.then((code) => {
      throw new Error(`backbeat board exited ${code}: ${board!.stderr.text}`);
    }),
  ]);
  const url = /http:\/\/\S+\//.exec(board.stdout.text)![0];
  pulse = await startPulse({ clusterId: CLUSTER, natsUrl: server.url, tempoBpm: 120 });

  const page = await browser.newPage({ viewport: { width: 1040, height: 640 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url);
  // Two beats on the page: its claim subscription is in place before the agents speak.
  await page.waitForFunction(() =>
    /^\d+$/.test(document.getElementById('beat-index')!.textContent ?? ''),
  );
  const firstShown = await pageBeat(page);
  await page.waitForFunction(
    (first) => Number(document.getElementById('beat-index')!.textContent) > first,
    firstShown,
  );
  expect(errors).toEqual([]);

  // One claim, then silence: gone quiet after four beats.
  const quiet = createClient({
    clusterId: CLUSTER,
    agentId: 'agent-quiet',
    natsUrl: server.url,
    signingKey: trusted.secretKey,
  });
  agents.push(quiet);
  await quiet.start();
  await quiet.emitStatusClaim({
    state: 'waiting',
    beatsLeft: 9,
    progress: 0.4,
    taskId: 'agent-quiet-task',
  });
  await chattyAgent('agent-stranger', stranger.secretKey, 'executing');
  await chattyAgent('agent-ok', trusted.secretKey, 'executing');
  await chattyAgent('agent-waiting', trusted.secretKey, 'waiting');
  // The two agents have sent a claim once each has delivered a beat: count from here.
  await Promise.all(
    agents.slice(-2).map(
      (agent) =>
        new Promise<void>((resolve) => {
          const subscription = agent.onBeat(() => {
            subscription.unsubscribe();
            resolve();
          });
        }),
    ),
  );
  const claimedAt = await pageBeat(page);

  await page.waitForFunction(() =>
    ['agent-ok', 'agent-waiting'].every((agent) => {
      const row = document.querySelector(`tr[data-agent="${agent}"]`);
      return (
        row?.querySelector('[data-field="verdict"]')?.textContent &&
        row.querySelector('[data-field="state"]')?.textContent !== '–'
      );
    }),
  );
  expect((await pageBeat(page)) - claimedAt).toBeLessThanOrEqual(2);

  const cells = (agent: string): Promise<Record<string, string | null>> =>
    page.$$eval(`tr[data-agent="${agent}"] td`, (tds) =>
      Object.fromEntries(tds.map((td) => [td.dataset.field ?? '', td.textContent])),
    );
  expect(await cells('agent-ok')).toMatchObject({
    state: 'executing',
    verdict: 'ok',
    task: 'agent-ok-task',
  });
  expect(await cells('agent-waiting')).toMatchObject({ state: 'waiting', verdict: 'ok' });
  await page.waitForSelector('tr[data-agent="agent-stranger"]');
  expect(await cells('agent-stranger')).toMatchObject({ state: '–', verdict: 'untrusted-key' });
  expect(await page.getAttribute('tr[data-agent="agent-stranger"]', 'class')).toContain('rejected');
  expect(await cells('agent-quiet')).toMatchObject({ state: 'waiting', verdict: 'ok' });
  await page.waitForSelector('tr[data-agent="agent-quiet"].quiet');
  expect(await page.textContent('#source')).toBe('pulse');
  expect(await page.textContent('#degraded')).toBe('following');
  expect(await page.textContent('#tempo')).toBe('120 bpm');

  const screenshot = join(outputDir(), 'board.png');
  const png = await page.screenshot({ path: screenshot, fullPage: true });
  const stats = await pictureStats(page, png);
  expect(stats.colours).toBeGreaterThan(50);
  expect(stats.topShare).toBeLessThan(0.9);

  // The pulse stops: the page says so, from the SDK's health and synthetic beats.
  await pulse.stop();
  await page.waitForFunction(
    () =>
      document.getElementById('degraded')!.textContent === 'degraded' &&
      document.getElementById('source')!.textContent === 'synthetic',
  );
  expect(errors).toEqual([]);

  board.stop();
  expect(await board.code).toBe(0);
});
