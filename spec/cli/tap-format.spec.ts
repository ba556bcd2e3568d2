/**
 * The tap's events and their printing: pure functions of frames, verdicts and arrival times.
 */
import { firstValueFrom, of, toArray } from 'rxjs';
import { AgentBoard } from '../../lib/cli/agent-board';
import {
  beatEvent,
  claimEvent,
  frameRejectedEvent,
  type TapClaimEvent,
} from '../../lib/cli/tap-events';
import {
  formatEventJson,
  formatEventText,
  formatTable,
  verdictText,
} from '../../lib/cli/tap-format';
import { TapSession } from '../../lib/cli/tap-session';
import { sealClaim } from '../../lib/claims/seal-claim';
import { validateClaimInput } from '../../lib/claims/validate-claim-input';
import { HybridLogicalClock } from '../../lib/clock/hlc';
import { parseSigningKey } from '../../lib/crypto/keys';
import {
  verifyStatus,
  type StatusMessage,
  type StatusVerdict,
} from '../../lib/operators/verify-status';
import type { AcceptedFrame } from '../../lib/protocol/judge';
import { windowIdFor } from '../../lib/protocol/windows';
import { makePulseFrame } from '../../lib/pulse/frame';
import nacl from 'tweetnacl';

const CLUSTER = 'tap-unit';
const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const PERIOD_MS = 500;

/** A pulse frame of beat `index`, due at NOW + index periods, its deadline one period later. */
function pulseFrame(
  index: number,
  options: { beatsPerBar?: number; pulseId?: string; clusterId?: string } = {},
) {
  const { beatsPerBar = 4, pulseId = 'pulse-a', clusterId = CLUSTER } = options;
  return makePulseFrame({
    clusterId,
    pulseId,
    beatIndex: index,
    tempoBpm: 120,
    beatsPerBar,
    phases: ['plan', 'work', 'work', 'review'],
    clock: new HybridLogicalClock(pulseId, { physicalNow: () => NOW + index * PERIOD_MS }),
    deadlineAtMs: NOW + (index + 1) * PERIOD_MS,
  });
}

function accepted(index: number, options?: Parameters<typeof pulseFrame>[1]): AcceptedFrame {
  return pulseFrame(index, options).frame;
}

const seed = (byte: number) => new Uint8Array(32).fill(byte);
const trustedKey = parseSigningKey(nacl.sign.keyPair.fromSeed(seed(1)).secretKey);
const otherKey = parseSigningKey(nacl.sign.keyPair.fromSeed(seed(2)).secretKey);

/** A claim message from `agentId`, signed with `key` when given. */
function claimMessage(agentId: string, key?: typeof trustedKey, beatIndex = 8): StatusMessage {
  const sealed = sealClaim(
    validateClaimInput({
      state: 'executing',
      taskId: 'index-docs',
      beatsLeft: 5,
      progress: 0.3,
      notes: '',
    }),
    {
      clusterId: CLUSTER,
      agentId,
      defaultTaskId: 'task-0000000000000000',
      beat: { beat_index: beatIndex, window_id: windowIdFor(CLUSTER, beatIndex) },
      hlc: new HybridLogicalClock(agentId, { physicalNow: () => NOW }).tick(),
      signingKey: key,
    },
  );
  return { subject: sealed.subject, data: sealed.payload, headers: sealed.headers };
}

/** verifyStatus's verdicts on messages, in order, as the tap's observer would give them. */
function verdicts(messages: StatusMessage[], requireSignature: boolean): Promise<StatusVerdict[]> {
  return firstValueFrom(
    of(...messages).pipe(
      verifyStatus({
        trustedKeys: { 'agent-1': trustedKey.publicKeyBase64 },
        requireSignature,
        physicalNow: () => NOW,
      }),
      toArray(),
    ),
  );
}

describe('tap events', () => {
  it('a beat: bar and beat, lateness against the previous deadline, interval', () => {
    const previous = { frame: accepted(6), arrivalMs: NOW + 6 * PERIOD_MS };
    // Beat 7 was due at the previous frame's deadline, NOW + 7 periods; it arrives 12 ms after.
    const event = beatEvent(
      { frame: accepted(7), arrivalMs: NOW + 7 * PERIOD_MS + 12 },
      'pulse',
      false,
      previous,
    );
    expect(event).toMatchObject({
      kind: 'beat',
      beat_index: 7,
      bar: 2,
      beat: 4,
      downbeat: false,
      phase: 'review',
      tempo_bpm: 120,
      beats_per_bar: 4,
      pulse_id: 'pulse-a',
      late_ms: 12,
      interval_ms: PERIOD_MS + 12,
      received_at: new Date(NOW + 7 * PERIOD_MS + 12).toISOString(),
    });
  });

  it('a beat interval is measured on the monotonic clock when both arrivals read it', () => {
    // The wall clock stepped an hour back between the two frames; the monotonic one did not.
    const previous = { frame: accepted(6), arrivalMs: NOW, arrivalMonoMs: 1000 };
    const event = beatEvent(
      {
        frame: accepted(7),
        arrivalMs: NOW - 3_600_000 + PERIOD_MS,
        arrivalMonoMs: 1000 + PERIOD_MS,
      },
      'pulse',
      false,
      previous,
    );
    expect(event.interval_ms).toBe(PERIOD_MS);
    expect(event.received_at).toBe(new Date(NOW - 3_600_000 + PERIOD_MS).toISOString());
  });

  it('a beat early against the deadline has a negative lateness', () => {
    const previous = { frame: accepted(0), arrivalMs: NOW };
    const event = beatEvent(
      { frame: accepted(1), arrivalMs: NOW + PERIOD_MS - 3 },
      'pulse',
      false,
      previous,
    );
    expect(event.late_ms).toBe(-3);
  });

  it.each([
    ['the first beat', undefined],
    ['after a gap', { frame: accepted(4), arrivalMs: NOW }],
    ['after a change of pulse', { frame: accepted(6, { pulseId: 'pulse-b' }), arrivalMs: NOW }],
  ])('no lateness for %s', (_, previous) => {
    const event = beatEvent(
      { frame: accepted(7), arrivalMs: NOW + 3600 },
      'pulse',
      false,
      previous,
    );
    expect(event.late_ms).toBeNull();
    expect(event.interval_ms).toBe(previous === undefined ? null : 3600);
  });

  it('a claim: signed by a trusted key, by another key, unsigned, or rejected', async () => {
    const messages = [
      claimMessage('agent-1', trustedKey),
      claimMessage('agent-3', otherKey),
      claimMessage('agent-2'),
    ];
    const [trusted, untrusted, unsigned] = (await verdicts(messages, false)).map((verdict, i) =>
      claimEvent(verdict, messages[i], new Set(['agent-1']), NOW),
    );
    expect([trusted.signature, untrusted.signature, unsigned.signature]).toEqual([
      'trusted-key',
      'untrusted-key',
      'unsigned',
    ]);
    expect(trusted).toMatchObject({ verdict: 'ok', agent_id: 'agent-1' });
    expect(trusted.claim).toMatchObject({ state: 'executing', task_id: 'index-docs' });

    const [rejected] = (await verdicts([claimMessage('agent-2')], true)).map((verdict) =>
      claimEvent(verdict, messages[2], new Set(['agent-1']), NOW),
    );
    expect(rejected).toMatchObject({
      verdict: 'unsigned',
      agent_id: 'agent-2',
      subject: `backbeat.${CLUSTER}.status.agent-2`,
      signature: null,
      claim: null,
    });
  });
});

describe('tap text', () => {
  it('prints a beat on one line: index, bar:beat, downbeat, phase, tempo, lateness, pulse', () => {
    const previous = { frame: accepted(7), arrivalMs: NOW };
    const line = formatEventText(
      beatEvent(
        { frame: accepted(8), arrivalMs: NOW + 8 * PERIOD_MS + 5 },
        'pulse',
        false,
        previous,
      ),
    );
    expect(line.endsWith('\n')).toBe(true);
    expect(line.trimEnd().split(/\s{2,}/)).toEqual([
      'beat 8',
      '3:1',
      'downbeat',
      'plan',
      '120 bpm',
      'late +5 ms',
      'pulse-a',
    ]);
  });

  it('flags legacy frames and clocks ahead', () => {
    const line = formatEventText(
      beatEvent({ frame: accepted(1), arrivalMs: NOW }, 'legacy', true, undefined),
    );
    expect(line).toContain('late -');
    expect(line).toContain('(legacy frame, hlc ahead of this clock)');
  });

  it('prints a rejected frame with its reason', () => {
    expect(formatEventText(frameRejectedEvent('other-cluster', 312, NOW))).toBe(
      'frame rejected: other-cluster (312 bytes)\n',
    );
  });

  it('prints claims with their verdicts', async () => {
    const messages = [claimMessage('agent-1', trustedKey), claimMessage('agent-2')];
    const lines = (await verdicts(messages, false)).map((verdict, i) =>
      formatEventText(claimEvent(verdict, messages[i], new Set(['agent-1']), NOW)),
    );
    expect(lines).toEqual([
      'claim agent-1  executing  index-docs  30%  5 beats left  at beat 8  ok\n',
      'claim agent-2  executing  index-docs  30%  5 beats left  at beat 8  ok (unsigned)\n',
    ]);
    const [rejected] = await verdicts([messages[1]], true);
    expect(formatEventText(claimEvent(rejected, messages[1], new Set(), NOW))).toBe(
      'claim agent-2  rejected: unsigned\n',
    );
  });

  it.each([
    ['ok', 'trusted-key', 'ok'],
    ['ok', 'untrusted-key', 'ok (untrusted key)'],
    ['ok', 'unsigned', 'ok (unsigned)'],
    ['replay', null, 'replay'],
  ] as const)('verdict %s signed %s reads %s', (verdict, signature, text) => {
    expect(verdictText(verdict, signature)).toBe(text);
  });

  it('prints NDJSON: one parseable object per line, kind first', () => {
    const event = beatEvent({ frame: accepted(3), arrivalMs: NOW }, 'pulse', false, undefined);
    const line = formatEventJson(event);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(JSON.parse(line)).toEqual(event);
    expect(line.startsWith('{"kind":"beat"')).toBe(true);
  });
});

describe('the agent table', () => {
  function event(
    agentId: string,
    verdict: TapClaimEvent['verdict'],
    state?: string,
  ): TapClaimEvent {
    return {
      kind: 'claim',
      subject: `backbeat.${CLUSTER}.status.${agentId}`,
      agent_id: agentId,
      verdict,
      signature: verdict === 'ok' ? 'trusted-key' : null,
      claim:
        state === undefined
          ? null
          : {
              type: 'backbeat.statusclaim.v1',
              cluster_id: CLUSTER,
              agent_id: agentId,
              task_id: `task-of-${agentId}`,
              beat_index: 8,
              window_id: windowIdFor(CLUSTER, 8),
              state: state as 'executing',
              beats_left: 3,
              progress: 0.25,
              notes: '',
              hlc: '000000000001:0000:x',
            },
      received_at: new Date(NOW).toISOString(),
    };
  }

  it('keeps each agent’s last accepted state; a rejected claim changes only its verdict', () => {
    const board = new AgentBoard();
    board.record(event('zeta', 'ok', 'waiting'));
    board.record(event('alpha', 'ok', 'executing'));
    board.record(event('alpha', 'replay'));
    board.record(event('mu', 'unsigned'));
    const table = board.table(accepted(12));
    expect(table).toMatchObject({ kind: 'table', beat_index: 12, bar: 4 });
    expect(table.agents.map((row) => [row.agent_id, row.state, row.verdict])).toEqual([
      ['alpha', 'executing', 'replay'],
      ['mu', null, 'unsigned'],
      ['zeta', 'waiting', 'ok'],
    ]);
  });

  it('forgets the agent heard from longest ago beyond its size', () => {
    const board = new AgentBoard(2);
    board.record(event('a', 'ok', 'done'));
    board.record(event('b', 'ok', 'done'));
    board.record(event('a', 'ok', 'failed'));
    board.record(event('c', 'ok', 'done'));
    expect(board.table(accepted(0)).agents.map((row) => row.agent_id)).toEqual(['a', 'c']);
  });

  it('prints aligned columns under a heading naming the bar', () => {
    const board = new AgentBoard();
    board.record(event('indexer-1', 'ok', 'executing'));
    board.record(event('b', 'unsigned'));
    const lines = formatTable(board.table(accepted(12))).split('\n');
    expect(lines[0]).toBe(`── bar 4 (beat 12, window ${windowIdFor(CLUSTER, 12)}) ──`);
    expect(lines[1].split(/\s+/)).toEqual([
      'AGENT',
      'STATE',
      'TASK',
      'PROGRESS',
      'BEATS_LEFT',
      'BEAT',
      'VERDICT',
    ]);
    expect(lines[2].split(/\s+/)).toEqual(['b', '-', '-', '-', '-', '-', 'unsigned']);
    expect(lines[3].split(/\s+/)).toEqual([
      'indexer-1',
      'executing',
      'task-of-indexer-1',
      '25%',
      '3',
      '8',
      'ok',
    ]);
    // Every column starts at the same place on every line.
    for (const title of ['STATE', 'TASK', 'PROGRESS', 'BEATS_LEFT', 'BEAT', 'VERDICT']) {
      const column = lines[1].indexOf(title);
      expect(lines[3][column - 1]).toBe(' ');
      expect(lines[3][column]).not.toBe(' ');
    }
    expect(lines.at(-1)).toBe('');
  });

  it('says so when no claim was heard', () => {
    expect(formatTable(new AgentBoard().table(accepted(4)))).toMatch(/\(no claims yet\)\n$/);
  });
});

describe('TapSession', () => {
  function session(trustedPulseKeys: Uint8Array[] = []) {
    return new TapSession({
      clusterId: CLUSTER,
      acceptLegacyFrames: false,
      trustedPulseKeys,
      trustedAgents: new Set(['agent-1']),
      physicalNow: () => NOW,
    });
  }

  it('judges frames: a beat, plus the table on a downbeat', () => {
    const tap = session();
    const kinds = [3, 4, 5].map((index) => {
      const { payload, headers } = pulseFrame(index);
      return tap.frame(payload, headers, NOW + index * PERIOD_MS).map((event) => event.kind);
    });
    expect(kinds).toEqual([['beat'], ['beat', 'table'], ['beat']]);
  });

  it('reports frames the judge rejects, with their reason', () => {
    const tap = session();
    const other = pulseFrame(1, { clusterId: 'elsewhere' });
    const legacy = new TextEncoder().encode(JSON.stringify({ bar: 1, beat: 1 }));
    expect(tap.frame(other.payload, other.headers, NOW)).toEqual([
      frameRejectedEvent('other-cluster', other.payload.byteLength, NOW),
    ]);
    expect(tap.frame(legacy, undefined, NOW)).toEqual([
      frameRejectedEvent('legacy-off', legacy.byteLength, NOW),
    ]);
    expect(session([trustedKey.publicKey]).frame(pulseFrame(1).payload, {}, NOW)).toEqual([
      frameRejectedEvent('unsigned-frame', pulseFrame(1).payload.byteLength, NOW),
    ]);
  });

  it('measures lateness from one beat to the next', () => {
    const tap = session();
    tap.frame(pulseFrame(1).payload, undefined, NOW + PERIOD_MS);
    const [second] = tap.frame(pulseFrame(2).payload, undefined, NOW + 2 * PERIOD_MS + 40);
    expect(second).toMatchObject({ kind: 'beat', late_ms: 40, interval_ms: PERIOD_MS + 40 });
  });

  it('shows claims in the next downbeat’s table', async () => {
    const tap = session();
    const messages = [claimMessage('agent-1', trustedKey), claimMessage('agent-2')];
    const claimEvents = (await verdicts(messages, true)).flatMap((verdict, i) =>
      tap.claim(verdict, messages[i], NOW),
    );
    expect(claimEvents.map((e) => (e.kind === 'claim' ? e.verdict : e.kind))).toEqual([
      'ok',
      'unsigned',
    ]);
    const [, table] = tap.frame(pulseFrame(8).payload, undefined, NOW);
    expect(table).toMatchObject({
      kind: 'table',
      agents: [
        { agent_id: 'agent-1', state: 'executing', verdict: 'ok', signature: 'trusted-key' },
        { agent_id: 'agent-2', state: null, verdict: 'unsigned' },
      ],
    });
  });
});
