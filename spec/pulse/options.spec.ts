import { ConfigError } from '../../lib/errors';
import {
  checkPulseTempo,
  DEFAULT_PULSE_NATS_URL,
  epochStart,
  resolvePulseOptions,
  type PulseOptions,
} from '../../lib/pulse/options';
import { asyncScheduler, VirtualTimeScheduler } from 'rxjs';

function fieldOfError(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).field;
  }
  throw new Error('no ConfigError was thrown');
}

const fakeConnection = { publish: () => undefined, closed: () => new Promise(() => undefined) };

describe('resolvePulseOptions', () => {
  it('fills documented defaults', () => {
    const resolved = resolvePulseOptions({ clusterId: 'chorus-dev' });
    expect(resolved).toMatchObject({
      clusterId: 'chorus-dev',
      tempoBpm: 120,
      beatsPerBar: 4,
      phases: ['plan', 'work', 'work', 'review'],
      startIndex: 0,
      natsUrl: DEFAULT_PULSE_NATS_URL,
    });
    expect(resolved.pulseId).toMatch(/^pulse-[0-9a-f]{16}$/);
    expect(resolved.scheduler).toBe(asyncScheduler);
    expect(typeof resolved.physicalNow()).toBe('number');
    expect(resolvePulseOptions({ clusterId: 'c' }).pulseId).not.toBe(resolved.pulseId);
  });

  it('keeps what the caller gave', () => {
    const scheduler = new VirtualTimeScheduler();
    const resolved = resolvePulseOptions({
      scheduler,
      clusterId: 'c1',
      pulseId: 'pulse_1',
      natsUrl: ['nats://a:4222', 'nats://b:4222'],
      tempoBpm: 6000,
      beatsPerBar: 64,
      phases: ['😀'.repeat(32), 'x'],
      startIndex: Number.MAX_SAFE_INTEGER,
    });
    expect(resolved).toMatchObject({
      pulseId: 'pulse_1',
      natsUrl: ['nats://a:4222', 'nats://b:4222'],
      tempoBpm: 6000,
      beatsPerBar: 64,
      phases: ['😀'.repeat(32), 'x'],
      startIndex: Number.MAX_SAFE_INTEGER,
    });
    expect(resolved.scheduler).toBe(scheduler);
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ['missing cluster', { clusterId: undefined }, 'clusterId'],
    ['cluster with a dot', { clusterId: 'a.b' }, 'clusterId'],
    ['empty cluster', { clusterId: '' }, 'clusterId'],
    ['cluster of 129 chars', { clusterId: 'c'.repeat(129) }, 'clusterId'],
    ['pulse id with a space', { pulseId: 'pulse a' }, 'pulseId'],
    ['tempo 0', { tempoBpm: 0 }, 'tempoBpm'],
    ['tempo 6001', { tempoBpm: 6001 }, 'tempoBpm'],
    ['tempo NaN', { tempoBpm: NaN }, 'tempoBpm'],
    ['tempo Infinity', { tempoBpm: Infinity }, 'tempoBpm'],
    ['tempo as text', { tempoBpm: '120' }, 'tempoBpm'],
    ['bar of 0', { beatsPerBar: 0 }, 'beatsPerBar'],
    ['bar of 65', { beatsPerBar: 65 }, 'beatsPerBar'],
    ['fractional bar', { beatsPerBar: 2.5 }, 'beatsPerBar'],
    ['no phases', { phases: [] }, 'phases'],
    ['empty phase', { phases: ['plan', ''] }, 'phases'],
    ['phase of 33 chars', { phases: ['p'.repeat(33)] }, 'phases'],
    ['reserved phase degraded', { phases: ['plan', 'degraded'] }, 'phases'],
    ['reserved phase legacy', { phases: ['legacy'] }, 'phases'],
    ['phase not a string', { phases: [1] }, 'phases'],
    ['phases not a list', { phases: 'plan' }, 'phases'],
    ['negative start', { startIndex: -1 }, 'startIndex'],
    ['fractional start', { startIndex: 1.5 }, 'startIndex'],
    ['start past 2^53-1', { startIndex: 2 ** 53 }, 'startIndex'],
    ['epoch NaN', { epochMs: NaN }, 'epochMs'],
    ['epoch as text', { epochMs: '0' }, 'epochMs'],
    ['epoch and start index', { epochMs: 0, startIndex: 5 }, 'epochMs'],
    ['empty URL', { natsUrl: '' }, 'natsUrl'],
    ['signing key of the wrong type', { signingKey: 42 }, 'signingKey'],
    ['connection that is not one', { connection: {} }, 'connection'],
    ['URL and connection', { natsUrl: 'nats://x:4222', connection: fakeConnection }, 'connection'],
    ['scheduler without timers', { scheduler: { now: () => 0 } }, 'scheduler'],
    ['wall clock not a function', { physicalNow: 5 }, 'physicalNow'],
    ['misspelt option', { tempo: 90 }, 'tempo'],
  ];

  it.each(invalid)('refuses %s with a ConfigError naming the field', (_why, patch, field) => {
    const options = { clusterId: 'chorus-dev', ...patch } as unknown as PulseOptions;
    expect(fieldOfError(() => resolvePulseOptions(options))).toBe(field);
  });

  it('says which phase is wrong', () => {
    expect(() => resolvePulseOptions({ clusterId: 'c', phases: ['plan', 'degraded'] })).toThrow(
      /phases: item 1: is reserved/,
    );
  });

  it('refuses options that are not an object', () => {
    expect(fieldOfError(() => resolvePulseOptions(null as unknown as PulseOptions))).toBe(
      'options',
    );
  });
});

describe('epochStart', () => {
  it('is the latest index due now and how long ago it was due', () => {
    expect(epochStart(1_000, 120, 3_700)).toEqual({ index: 5, dueAgoMs: 200 });
    expect(epochStart(1_000, 120, 3_500)).toEqual({ index: 5, dueAgoMs: 0 });
    expect(epochStart(0, 120, 1_700_000_000_250)).toEqual({ index: 3_400_000_000, dueAgoMs: 250 });
  });

  it('refuses an epoch later than now, or one whose index due now is past 2^53−1', () => {
    expect(fieldOfError(() => epochStart(5_000, 120, 4_999))).toBe('epochMs');
    expect(fieldOfError(() => epochStart(-1e20, 6000, 0))).toBe('epochMs');
  });
});

describe('checkPulseTempo', () => {
  it('passes a tempo from 1 to 6000 and refuses others naming tempoBpm', () => {
    expect(checkPulseTempo(1)).toBe(1);
    expect(checkPulseTempo(6000)).toBe(6000);
    expect(checkPulseTempo(72.5)).toBe(72.5);
    for (const bad of [0.5, 6000.1, NaN, -Infinity, '60' as unknown as number]) {
      expect(fieldOfError(() => checkPulseTempo(bad))).toBe('tempoBpm');
    }
  });
});
