/**
 * The `backbeat` command against a real nats-server, run in-process through main():
 * `stream ensure`, `tap` (beats, claims and their verdicts, the table) and `pulse`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, headers as natsHeaders, type Msg, type NatsConnection } from 'nats';
import { keyFileText } from '../../lib/cli/key-file';
import { sealClaim } from '../../lib/claims/seal-claim';
import { validateClaimInput } from '../../lib/claims/validate-claim-input';
import { HybridLogicalClock } from '../../lib/clock/hlc';
import { generateSigningKey, parseSigningKey, type SigningKey } from '../../lib/crypto/keys';
import { judgeFrame } from '../../lib/protocol/judge';
import { beatSubject, statusStreamName } from '../../lib/protocol/subjects';
import { windowIdFor } from '../../lib/protocol/windows';
import { startPulse, type Pulse } from '../../lib/pulse/pulse';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';
import { runCli, type CliRun } from './cli-harness';

/** 1200 BPM: a beat every 50 ms, a bar every 200 ms, so that runs are short. */
const TEMPO = '1200';

describe('backbeat against nats-server', () => {
  let server: NatsServerHandle;
  let connection: NatsConnection;
  let dir: string;
  let pulse: Pulse | undefined;
  let running: CliRun | undefined;

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    connection = await connect({ servers: server.url });
  });

  afterAll(async () => {
    await connection.close();
    await server.stop();
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'backbeat-cli-'));
  });

  afterEach(async () => {
    running?.stop();
    await running?.code;
    running = undefined;
    await pulse?.stop();
    pulse = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  function publishClaim(clusterId: string, agentId: string, signingKey?: SigningKey): void {
    const sealed = sealClaim(
      validateClaimInput({
        state: 'executing',
        taskId: `task-${agentId}`,
        beatsLeft: 7,
        progress: 0.5,
        notes: '',
      }),
      {
        clusterId,
        agentId,
        defaultTaskId: 'task-0000000000000000',
        beat: { beat_index: 3, window_id: windowIdFor(clusterId, 3) },
        hlc: new HybridLogicalClock(agentId).tick(),
        signingKey,
      },
    );
    const headers = natsHeaders();
    for (const [name, value] of Object.entries(sealed.headers)) headers.set(name, value);
    connection.publish(sealed.subject, sealed.payload, { headers });
  }

  describe('stream ensure', () => {
    it('creates the stream, then finds it as asked', async () => {
      const argv = ['stream', 'ensure', '--cluster', 'cli-stream', '--nats', server.url];
      const first = runCli(argv);
      expect(await first.code).toBe(0);
      expect(first.stdout.text).toBe(
        'created stream BACKBEAT_STATUS_cli-stream on backbeat.cli-stream.status.> (file storage, 1 replica)\n',
      );
      const info = await (
        await connection.jetstreamManager()
      ).streams.info(statusStreamName('cli-stream'));
      expect(info.config.subjects).toEqual(['backbeat.cli-stream.status.>']);

      const second = runCli([...argv, '--json']);
      expect(await second.code).toBe(0);
      expect(second.stdout.json()).toEqual([
        { stream: 'BACKBEAT_STATUS_cli-stream', created: false, updated: [] },
      ]);

      const third = runCli([...argv, '--max-age-ms', '3600000']);
      expect(await third.code).toBe(0);
      expect(third.stdout.text).toContain('updated stream BACKBEAT_STATUS_cli-stream');
      expect(third.stdout.text).toContain('maxAgeMs');
    });

    it('refuses more replicas than the cluster has servers, for a new stream and an existing one', async () => {
      const argv = ['stream', 'ensure', '--cluster', 'cli-replicas', '--nats', server.url];
      const refused = `error: --replicas 3: NATS at ${server.url} is a single server, which can hold at most 1 replica of a stream: use --replicas 1, or run a NATS cluster of 3 servers`;
      const before = runCli([...argv, '--replicas', '3']);
      expect(await before.code).toBe(2);
      expect(before.stderr.text).toContain(refused);
      const jsm = await connection.jetstreamManager();
      await expect(jsm.streams.info(statusStreamName('cli-replicas'))).rejects.toThrow(
        /stream not found/,
      );

      expect(await runCli(argv).code).toBe(0);
      const after = runCli([...argv, '--replicas', '3']);
      expect(await after.code).toBe(2);
      expect(after.stderr.text).toContain(refused);
      expect(after.stdout.text).toBe('');
      const info = await jsm.streams.info(statusStreamName('cli-replicas'));
      expect(info.config.num_replicas).toBe(1);
    });

    it('exits 1 when the server refuses the stream, with its reason', async () => {
      // A stream of another name already captures the status subjects.
      const jsm = await connection.jetstreamManager();
      await jsm.streams.add({ name: 'OTHER_cli-taken', subjects: ['backbeat.cli-taken.status.>'] });
      const run = runCli(['stream', 'ensure', '--cluster', 'cli-taken', '--nats', server.url]);
      expect(await run.code).toBe(1);
      expect(run.stderr.text).toMatch(/error: cannot ensure stream BACKBEAT_STATUS_cli-taken: .+/);
    });

    it('never changes a setting it was not given', async () => {
      const argv = ['stream', 'ensure', '--cluster', 'cli-keep', '--nats', server.url];
      const first = runCli([...argv, '--max-age-ms', '3600000', '--duplicate-window-ms', '60000']);
      expect(await first.code).toBe(0);
      const again = runCli(argv);
      expect(await again.code).toBe(0);
      expect(again.stdout.text).toBe(
        'stream BACKBEAT_STATUS_cli-keep exists on backbeat.cli-keep.status.> as asked: nothing to change\n',
      );
      const jsm = await connection.jetstreamManager();
      const kept = (await jsm.streams.info(statusStreamName('cli-keep'))).config;
      expect([kept.max_age, kept.duplicate_window]).toEqual([3600e9, 60e9]);

      const longer = runCli([...argv, '--max-age-ms', '7200000', '--json']);
      expect(await longer.code).toBe(0);
      expect(longer.stdout.json()).toEqual([
        { stream: 'BACKBEAT_STATUS_cli-keep', created: false, updated: ['maxAgeMs'] },
      ]);
      const changed = (await jsm.streams.info(statusStreamName('cli-keep'))).config;
      expect([changed.max_age, changed.duplicate_window]).toEqual([7200e9, 60e9]);
    });

    it('exits 1 on a server without JetStream, saying how to enable it', async () => {
      const plain = await startNatsServer();
      try {
        const run = runCli(['stream', 'ensure', '--cluster', 'cli-nojs', '--nats', plain.url]);
        expect(await run.code).toBe(1);
        expect(run.stderr.text).toContain(`NATS at ${plain.url} has no JetStream`);
        expect(run.stderr.text).toContain('-js');
      } finally {
        await plain.stop();
      }
    });
  });

  describe('tap', () => {
    it('says so after two fallback periods with no beat, naming the subject', async () => {
      running = runCli(['tap', '--cluster', 'cli-silent', '--nats', server.url]);
      await running.stderr.until((err) => err.text.includes('no beat on'));
      expect(running.stderr.lines().filter((line) => line.includes('no beat on'))).toEqual([
        `backbeat tap: no beat on backbeat.cli-silent.beat for 2 s: is a pulse running for cluster 'cli-silent'? (check the name; start one with: backbeat pulse --cluster cli-silent --nats ${server.url})`,
      ]);
      expect(running.stdout.text).toBe('');
    });

    it('--count 3 --json prints three beats as NDJSON and exits 0', async () => {
      pulse = await startPulse({ connection, clusterId: 'cli-count', tempoBpm: 1200 });
      const run = runCli([
        'tap',
        '--cluster',
        'cli-count',
        '--nats',
        server.url,
        '--count',
        '3',
        '--json',
      ]);
      expect(await run.code).toBe(0);
      const events = run.stdout.json();
      const beats = events.filter((event) => event.kind === 'beat');
      expect(beats).toHaveLength(3);
      expect(events.every((event) => event.kind === 'beat' || event.kind === 'table')).toBe(true);
      const indexes = beats.map((beat) => beat.beat_index as number);
      // Strictly increasing: a pulse held up by a loaded machine skips slots, and a frame late
      // past the tolerance lets a synthetic beat in, both at the pulse's tempo.
      expect(indexes[1]).toBeGreaterThan(indexes[0]);
      expect(indexes[2]).toBeGreaterThan(indexes[1]);
      for (const beat of beats) {
        expect(beat).toMatchObject({ tempo_bpm: 1200 });
        if (beat.source !== 'synthetic') {
          expect(beat).toMatchObject({ pulse_id: pulse.pulseId, source: 'pulse' });
        }
      }
      expect(beats.some((beat) => beat.source === 'pulse')).toBe(true);
      // Lateness is measured against the previous frame's deadline, when the beat follows it.
      beats.forEach((beat, i) => {
        const previous = beats[i - 1];
        const follows =
          previous?.source === 'pulse' &&
          beat.source === 'pulse' &&
          beat.beat_index === (previous.beat_index as number) + 1;
        if (follows) expect(beat.late_ms).toEqual(expect.any(Number));
      });
    });

    it('shows each claim’s verdict, and the agents’ table on a downbeat', async () => {
      const trusted = parseSigningKey(generateSigningKey().secretKey);
      const stranger = parseSigningKey(generateSigningKey().secretKey);
      const keysFile = join(dir, 'trusted.json');
      writeFileSync(keysFile, JSON.stringify({ 'agent-1': trusted.publicKeyBase64 }));
      running = runCli([
        'tap',
        '--cluster',
        'cli-claims',
        '--nats',
        server.url,
        '--trusted-keys',
        keysFile,
      ]);
      await running.stderr.until((err) => err.text.includes('listening on'));
      expect(running.stderr.text).toContain(`claims must be signed by a key in ${keysFile}`);

      publishClaim('cli-claims', 'agent-1', trusted);
      publishClaim('cli-claims', 'agent-2');
      publishClaim('cli-claims', 'agent-3', stranger);
      const stdout = running.stdout;
      await stdout.until(
        (out) => out.lines().filter((line) => line.startsWith('claim ')).length === 3,
      );
      expect(stdout.lines().filter((line) => line.startsWith('claim '))).toEqual([
        'claim agent-1  executing  task-agent-1  50%  7 beats left  at beat 3  ok',
        'claim agent-2  rejected: unsigned',
        'claim agent-3  rejected: untrusted-key',
      ]);

      pulse = await startPulse({ connection, clusterId: 'cli-claims', tempoBpm: 1200 });
      await stdout.until((out) => /^agent-3 /m.test(out.text));
      const table = stdout.text.slice(stdout.text.lastIndexOf('── bar')).split('\n');
      expect(table[1].split(/\s+/)).toEqual([
        'AGENT',
        'STATE',
        'TASK',
        'PROGRESS',
        'BEATS_LEFT',
        'BEAT',
        'VERDICT',
      ]);
      expect(table.slice(2, 5).map((line) => line.split(/\s+/))).toEqual([
        ['agent-1', 'executing', 'task-agent-1', '50%', '7', '3', 'ok'],
        ['agent-2', '-', '-', '-', '-', '-', 'unsigned'],
        ['agent-3', '-', '-', '-', '-', '-', 'untrusted-key'],
      ]);

      running.stop();
      expect(await running.code).toBe(0);
    });

    it('without --trusted-keys, accepts an unsigned claim and says it was unsigned', async () => {
      running = runCli(['tap', '--cluster', 'cli-open', '--nats', server.url, '--json']);
      await running.stderr.until((err) => err.text.includes('listening on'));
      expect(running.stderr.text).toContain('claims need no signature (no --trusted-keys)');
      publishClaim('cli-open', 'agent-9');
      await running.stdout.until((out) => out.lines().length === 1);
      expect(running.stdout.json()).toEqual([
        expect.objectContaining({
          kind: 'claim',
          agent_id: 'agent-9',
          verdict: 'ok',
          signature: 'unsigned',
          claim: expect.objectContaining({ state: 'executing', beats_left: 7 }),
        }),
      ]);
      running.stop();
      expect(await running.code).toBe(0);
    });

    it('prints frames the judge rejects, with their reason', async () => {
      running = runCli(['tap', '--cluster', 'cli-junk', '--nats', server.url]);
      await running.stderr.until((err) => err.text.includes('listening on'));
      connection.publish(beatSubject('cli-junk'), new TextEncoder().encode('not json'));
      await running.stdout.until((out) => out.lines().length === 1);
      expect(running.stdout.text).toBe('frame rejected: not-json (8 bytes)\n');
      running.stop();
      expect(await running.code).toBe(0);
    });
  });

  describe('pulse', () => {
    it('publishes signed frames until its signal, then stops and exits 0', async () => {
      const keyPair = generateSigningKey();
      const keyFile = join(dir, 'pulse.key');
      writeFileSync(keyFile, keyFileText(keyPair.secretKey, keyPair.publicKey), { mode: 0o600 });
      const frames: Msg[] = [];
      let threeFramesSeen: () => void = () => undefined;
      const threeFrames = new Promise<void>((resolve) => (threeFramesSeen = resolve));
      const subscription = connection.subscribe(beatSubject('cli-pulse'), {
        callback: (_error, msg) => {
          if (frames.push(msg) === 3) threeFramesSeen();
        },
      });
      await connection.flush();

      const startedAfterMs = Date.now();
      running = runCli([
        'pulse',
        '--cluster',
        'cli-pulse',
        '--tempo',
        TEMPO,
        '--beats-per-bar',
        '3',
        '--pulse-id',
        'cli-pulse-1',
        '--key',
        keyFile,
        '--nats',
        server.url,
        '--verbose',
      ]);
      await running.stdout.until(
        (out) => out.lines().filter((l) => l.startsWith('beat ')).length >= 3,
      );
      const startedBeforeMs = Date.now();
      expect(running.stdout.lines()[0]).toContain(
        `backbeat pulse cli-pulse-1: cluster cli-pulse, 1200 BPM, 3 beats per bar, phases plan,work,work,review, epoch 1970-01-01T00:00:00.000Z, frames signed by ${Buffer.from(keyPair.publicKey).toString('base64')}`,
      );
      // Without --epoch the timeline is the Unix epoch's: beat i due at i × 50 ms since 1970,
      // so a restarted pulse never numbers its beats from 0 again.
      const [first] = running.stdout.lines()[1].split(/\s{2,}/);
      const firstIndex = Number(first.replace('beat ', ''));
      expect(firstIndex).toBeGreaterThanOrEqual(Math.floor(startedAfterMs / 50));
      expect(firstIndex).toBeLessThanOrEqual(Math.floor(startedBeforeMs / 50));
      // The raw subscriber, on its own connection, may hear them a little later than the pulse.
      await threeFrames;
      running.stop();
      expect(await running.code).toBe(0);
      subscription.unsubscribe();

      expect(running.stdout.lines().at(-1)).toMatch(
        /^backbeat pulse cli-pulse-1: stopped after beat \d+$/,
      );
      const verdicts = frames.slice(0, 3).map((msg) =>
        judgeFrame(msg.data, msg.headers, {
          clusterId: 'cli-pulse',
          acceptLegacyFrames: false,
          trustedPulseKeys: [keyPair.publicKey],
          maxClockSkewMs: 60000,
          physicalNow: () => Date.now(),
          legacy: () => {
            throw new Error('no legacy frame is expected');
          },
        }),
      );
      expect(
        verdicts.map((verdict) =>
          verdict.ok
            ? [verdict.frame.pulse_id, verdict.frame.beat_index, verdict.frame.beats_per_bar]
            : verdict.reason,
        ),
      ).toEqual([0, 1, 2].map((k) => ['cli-pulse-1', firstIndex + k, 3]));
    });
  });
});
