import {
  StatusClaimInputSchema,
  StatusClaimSchema,
  type StatusClaim,
} from '../../lib/protocol/status-claim';

const EMOJI = '😀'; // one code point, two UTF-16 units
const LONE_SURROGATE = '\ud800'; // one code point (unpaired), one unit

const claim: StatusClaim = {
  type: 'backbeat.statusclaim.v1',
  cluster_id: 'chorus-dev',
  agent_id: 'my-service',
  task_id: 'task-0123456789abcdef',
  beat_index: 8,
  window_id: '8f1958f5535901dda75dd0207807d63a',
  state: 'executing',
  beats_left: 5,
  progress: 0.3,
  notes: '',
  hlc: '018bcfe56800:0000:my-service',
};

const accepts = (fields: Partial<Record<keyof StatusClaim, unknown>>) =>
  StatusClaimSchema.safeParse({ ...claim, ...fields }).success;

/** The distinct paths of the issues of a rejected claim. */
const issuePaths = (fields: Partial<Record<keyof StatusClaim, unknown>>) => {
  const issues = StatusClaimSchema.safeParse({ ...claim, ...fields }).error?.issues ?? [];
  const paths = new Map(issues.map((issue) => [issue.path.join('.'), issue.path]));
  return [...paths.values()];
};

describe('StatusClaimSchema lengths, in code points', () => {
  it.each([
    ['task_id', 1, 128],
    ['notes', 0, 256],
  ] as const)('%s takes %i to %i code points, astral or not', (field, min, max) => {
    for (const unit of ['a', EMOJI, LONE_SURROGATE]) {
      expect(accepts({ [field]: unit.repeat(max) })).toBe(true);
      expect(issuePaths({ [field]: unit.repeat(max + 1) })).toEqual([[field]]);
      expect(accepts({ [field]: unit.repeat(min) })).toBe(true);
    }
    if (min > 0) expect(issuePaths({ [field]: '' })).toEqual([[field]]);
  });

  it('counts a high surrogate followed by a low one as one, a reversed pair as two', () => {
    const reversed = '\udc00\ud800';
    expect(accepts({ task_id: reversed + 'x'.repeat(126) })).toBe(true);
    expect(accepts({ task_id: reversed + 'x'.repeat(127) })).toBe(false);
    expect(accepts({ task_id: '\ud800\udc00' + 'x'.repeat(127) })).toBe(true);
  });

  it('wait_for holds at most 32 items of 1 to 256 code points', () => {
    expect(accepts({ wait_for: Array.from({ length: 32 }, () => EMOJI.repeat(256)) })).toBe(true);
    expect(accepts({ wait_for: [] })).toBe(true);
    expect(issuePaths({ wait_for: Array.from({ length: 33 }, () => 'x') })).toEqual([['wait_for']]);
    expect(issuePaths({ wait_for: ['x', EMOJI.repeat(257)] })).toEqual([['wait_for', 1]]);
    expect(issuePaths({ wait_for: ['x', 'y', ''] })).toEqual([['wait_for', 2]]);
  });
});

describe('StatusClaimSchema limits', () => {
  it.each([
    ['beats_left', 0, 2 ** 31 - 1, [-1, 2 ** 31, 1.5]],
    ['progress', 0, 1, [-0.0001, 1.0001, NaN]],
    ['beat_index', 0, Number.MAX_SAFE_INTEGER, [-1, 2 ** 53, 0.5]],
  ] as const)('%s takes %p to %p', (field, min, max, outside) => {
    expect(accepts({ [field]: min })).toBe(true);
    expect(accepts({ [field]: max })).toBe(true);
    for (const value of outside) expect(issuePaths({ [field]: value })).toEqual([[field]]);
  });

  it.each([
    ['type', 'backbeat.statusclaim.v2'],
    ['cluster_id', 'a.b'],
    ['agent_id', 'x'.repeat(129)],
    ['window_id', '8F1958F5535901DDA75DD0207807D63A'],
    ['state', 'sleeping'],
    ['hlc', '018bcfe56800:0000:my.service'],
    ['notes', undefined],
  ] as const)('refuses a bad %s', (field, value) => {
    expect(issuePaths({ [field]: value })).toEqual([[field]]);
  });

  it('takes every state and strips unknown fields', () => {
    for (const state of ['executing', 'planning', 'waiting', 'review', 'done', 'failed']) {
      expect(accepts({ state })).toBe(true);
    }
    expect(StatusClaimSchema.parse({ ...claim, extra: 1 })).toEqual(claim);
  });
});

describe('StatusClaimInputSchema', () => {
  const input = { state: 'done', beatsLeft: 0, progress: 1 } as const;

  it('fills empty notes and leaves taskId out or empty for the SDK to fill', () => {
    expect(StatusClaimInputSchema.parse(input)).toEqual({ ...input, notes: '' });
    expect(StatusClaimInputSchema.parse({ ...input, taskId: '' }).taskId).toBe('');
  });

  it('counts code points as the wire schema does', () => {
    const parse = (fields: object) => StatusClaimInputSchema.safeParse({ ...input, ...fields });
    expect(parse({ taskId: EMOJI.repeat(128), notes: EMOJI.repeat(256) }).success).toBe(true);
    expect(parse({ taskId: EMOJI.repeat(129) }).error?.issues.map((i) => i.path)).toEqual([
      ['taskId'],
    ]);
    expect(parse({ notes: EMOJI.repeat(257) }).error?.issues.map((i) => i.path)).toEqual([
      ['notes'],
    ]);
    expect(parse({ waitFor: [EMOJI.repeat(257)] }).error?.issues.map((i) => i.path)).toEqual([
      ['waitFor', 0],
    ]);
  });

  it('names every bad field', () => {
    const result = StatusClaimInputSchema.safeParse({ state: 'x', beatsLeft: -1, progress: 2 });
    expect(result.error?.issues.map((issue) => issue.path[0]).sort()).toEqual([
      'beatsLeft',
      'progress',
      'state',
    ]);
  });
});
