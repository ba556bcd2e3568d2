import nacl from 'tweetnacl';
import { CLAIM_HEADERS } from '../../lib/claims/claim-headers';
import { encodeClaim } from '../../lib/claims/encode-claim';
import { makeDefaultTaskId } from '../../lib/claims/default-task-id';
import { sealClaim, type ClaimContext } from '../../lib/claims/seal-claim';
import { validateClaimInput } from '../../lib/claims/validate-claim-input';
import { decodeStrictBase64 } from '../../lib/crypto/base64';
import { generateSigningKey, parseSigningKey } from '../../lib/crypto/keys';
import { StatusClaimValidationError } from '../../lib/errors';
import { StatusClaimSchema } from '../../lib/protocol/status-claim';
import { windowIdFor } from '../../lib/protocol/windows';
import vectors from '../fixtures/vectors/signatures.json';

const decoder = new TextDecoder();

function context(overrides: Partial<ClaimContext> = {}): ClaimContext {
  return {
    clusterId: 'chorus-dev',
    agentId: 'my-service',
    defaultTaskId: 'task-0123456789abcdef',
    beat: { beat_index: 41, window_id: windowIdFor('chorus-dev', 41) },
    hlc: '018bcfe56800:0001:my-service',
    ...overrides,
  };
}

const validInput = { state: 'executing', beatsLeft: 5, progress: 0.3, notes: 'Processing data' };

function issuesOf(run: () => unknown): StatusClaimValidationError['issues'] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(StatusClaimValidationError);
    return (error as StatusClaimValidationError).issues;
  }
  throw new Error('expected a StatusClaimValidationError');
}

describe('makeDefaultTaskId', () => {
  it('is task- followed by 16 lowercase hex digits, fresh each time', () => {
    const ids = new Set(Array.from({ length: 50 }, () => makeDefaultTaskId()));
    expect(ids.size).toBe(50);
    for (const id of ids) expect(id).toMatch(/^task-[0-9a-f]{16}$/);
  });
});

/** The claim of an unchecked input, as the claim chain makes it: validated, then sealed. */
function buildClaim(input: unknown, ctx: ClaimContext) {
  return sealClaim(validateClaimInput(input), ctx);
}

describe('validateClaimInput, then sealClaim', () => {
  it('fills every field the SDK owns and keeps the caller’s', () => {
    const ctx = context({ defaultTaskId: makeDefaultTaskId() });
    const { subject, claim } = buildClaim(
      { ...validInput, taskId: 'task-12345', waitFor: ['a'] },
      ctx,
    );
    expect(subject).toBe('backbeat.chorus-dev.status.my-service');
    expect(claim).toEqual({
      type: 'backbeat.statusclaim.v1',
      cluster_id: 'chorus-dev',
      agent_id: 'my-service',
      task_id: 'task-12345',
      beat_index: 41,
      window_id: ctx.beat.window_id,
      state: 'executing',
      wait_for: ['a'],
      beats_left: 5,
      progress: 0.3,
      notes: 'Processing data',
      hlc: ctx.hlc,
    });
    expect(StatusClaimSchema.parse(claim)).toEqual(claim);
    expect(Object.isFrozen(claim)).toBe(true);
  });

  it('sends exactly the payload it returns, parsed back to the claim', () => {
    const { claim, payload } = buildClaim(validInput, context());
    expect(JSON.parse(decoder.decode(payload))).toEqual(claim);
  });

  it.each([
    ['absent', {}],
    ['empty', { taskId: '' }],
  ])('fills the default task id when taskId is %s', (_label, taskId) => {
    const ctx = context({ defaultTaskId: makeDefaultTaskId() });
    const { claim } = buildClaim({ ...validInput, ...taskId }, ctx);
    expect(claim.task_id).toBe(ctx.defaultTaskId);
  });

  it('defaults notes to empty and leaves wait_for out when absent', () => {
    const { claim, payload } = buildClaim({ state: 'done', beatsLeft: 0, progress: 1 }, context());
    expect(claim.notes).toBe('');
    expect('wait_for' in claim).toBe(false);
    expect(decoder.decode(payload)).not.toContain('wait_for');
  });

  it('encodes the fields in the fixed order, byte for byte as the signature vector', () => {
    const [vector] = vectors.cases;
    const { payload, headers } = buildClaim(
      { ...validInput, taskId: 'task-12345' },
      context({ signingKey: parseSigningKey(vectors.secret_key_64_b64) }),
    );
    expect(decoder.decode(payload)).toBe(vector.payload);
    expect(headers[CLAIM_HEADERS.signature]).toBe(vector.signature_b64);
  });

  it('names the headers of docs/protocol.md section 5 exactly, unsigned', () => {
    const ctx = context();
    const { headers } = buildClaim(validInput, ctx);
    expect(headers).toEqual({
      'x-agent-id': 'my-service',
      'x-window-id': ctx.beat.window_id,
      'x-hlc': ctx.hlc,
      'Nats-Msg-Id': `my-service:${ctx.hlc}`,
    });
    expect(Object.keys(headers)).toEqual(['x-agent-id', 'x-window-id', 'x-hlc', 'Nats-Msg-Id']);
  });

  it('signs the exact payload bytes: tweetnacl verifies them with the header key', () => {
    const { secretKey, publicKey } = generateSigningKey();
    const { payload, headers } = buildClaim(
      validInput,
      context({ signingKey: parseSigningKey(secretKey) }),
    );
    expect(Object.keys(headers)).toEqual([
      'x-agent-id',
      'x-window-id',
      'x-hlc',
      'Nats-Msg-Id',
      'x-signature',
      'x-public-key',
    ]);
    expect(headers['x-signature']).toHaveLength(88);
    expect(headers['x-public-key']).toHaveLength(44);
    const signature = decodeStrictBase64(headers['x-signature'], 64)!;
    const headerKey = decodeStrictBase64(headers['x-public-key'], 32)!;
    expect(headerKey).toEqual(publicKey);
    expect(nacl.sign.detached.verify(payload, signature, publicKey)).toBe(true);
    const altered = Uint8Array.from(payload);
    altered[altered.length - 2] ^= 1;
    expect(nacl.sign.detached.verify(altered, signature, publicKey)).toBe(false);
  });

  it('does not mutate the input, nor share its wait_for array', () => {
    const input = { ...validInput, taskId: '', waitFor: ['x', 'y'] };
    const snapshot = structuredClone(input);
    const { claim } = buildClaim(input, context());
    expect(input).toEqual(snapshot);
    input.waitFor.push('z');
    expect(claim.wait_for).toEqual(['x', 'y']);
  });

  it.each([
    ['state', { state: 'sleeping' }],
    ['beatsLeft', { beatsLeft: -1 }],
    ['beatsLeft', { beatsLeft: 2 ** 31 }],
    ['beatsLeft', { beatsLeft: 1.5 }],
    ['progress', { progress: 1.01 }],
    ['progress', { progress: Number.NaN }],
    ['notes', { notes: 'n'.repeat(257) }],
    ['notes', { notes: 7 }],
    ['taskId', { taskId: 't'.repeat(129) }],
    ['waitFor', { waitFor: Array.from({ length: 33 }, () => 'w') }],
  ])('names %s when it is invalid: %j', (field, bad) => {
    const issues = issuesOf(() => buildClaim({ ...validInput, ...bad }, context()));
    expect(issues.map((issue) => issue.path[0])).toEqual([field]);
  });

  it('names each bad item of waitFor by its index', () => {
    const issues = issuesOf(() =>
      buildClaim({ ...validInput, waitFor: ['ok', '', 'w'.repeat(257)] }, context()),
    );
    expect(issues.map((issue) => issue.path)).toEqual([
      ['waitFor', 1],
      ['waitFor', 2],
    ]);
  });

  it('names every bad field at once, and missing ones', () => {
    const issues = issuesOf(() => buildClaim({ state: 'nope', progress: 2 }, context()));
    expect(issues.map((issue) => issue.path.join('.')).sort()).toEqual([
      'beatsLeft',
      'progress',
      'state',
    ]);
    expect(issues.every((issue) => issue.message.length > 0)).toBe(true);
  });

  it.each([null, undefined, 'executing', 42, []])('refuses %j as a whole', (input) => {
    const issues = issuesOf(() => buildClaim(input, context()));
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0].path).toEqual([]);
  });

  it('counts lengths in code points: 256 four-byte characters are valid notes', () => {
    const notes = '😀'.repeat(256); // 512 UTF-16 units, 1024 bytes
    const { claim } = buildClaim({ ...validInput, notes }, context());
    expect(claim.notes).toBe(notes);
  });

  it('refuses a claim that encodes to more than 4096 bytes, naming the whole claim', () => {
    // Every field is within its own limit; together, with multi-byte text, they are too large.
    const input = {
      ...validInput,
      notes: '😀'.repeat(256),
      waitFor: Array.from({ length: 6 }, () => 'é'.repeat(256)),
    };
    expect(() => validateClaimInput(input)).not.toThrow();
    const issues = issuesOf(() => buildClaim(input, context()));
    expect(issues).toHaveLength(1);
    expect(issues[0].path).toEqual([]);
    expect(issues[0].message).toMatch(/4096/);
  });

  it('accepts a claim of exactly 4096 bytes, and refuses one byte more', () => {
    const ctx = context();
    const { claim } = buildClaim({ ...validInput, notes: '' }, ctx);
    const size = (waitFor: string[]): number =>
      encodeClaim({ ...claim, wait_for: waitFor }).byteLength;
    // Full items of 256 characters, then one last item that brings the claim to 4096 bytes.
    const items: string[] = [];
    while (size([...items, 'w'.repeat(256)]) < 4096) items.push('w'.repeat(256));
    items.push('w'.repeat(4096 - size([...items, ''])));
    expect(size(items)).toBe(4096);
    const exact = buildClaim({ ...validInput, notes: '', waitFor: items }, ctx);
    expect(exact.payload.byteLength).toBe(4096);
    const oneMore = [...items.slice(0, -1), `${items.at(-1)!}w`];
    expect(() => buildClaim({ ...validInput, notes: '', waitFor: oneMore }, ctx)).toThrow(
      StatusClaimValidationError,
    );
  });
});

describe('validateClaimInput and sealClaim', () => {
  it('validate without a context, so that an invalid input costs no HLC tick', () => {
    const tick = jest.fn(() => '018bcfe56800:0001:my-service');
    const build = (input: unknown) =>
      sealClaim(validateClaimInput(input), context({ hlc: tick() }));
    expect(() => build({ state: 'nope' })).toThrow(StatusClaimValidationError);
    expect(tick).not.toHaveBeenCalled();
    build(validInput);
    expect(tick).toHaveBeenCalledTimes(1);
  });
});
