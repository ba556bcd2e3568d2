import { describeError } from './logger';
import type { LastError } from './metrics';

/** The errors a client survived: counted, the last kept as `metrics().errors.last`. */
export class ErrorLog {
  count = 0;
  last: LastError | null = null;

  constructor(private readonly wallNow: () => number) {}

  /** Never throws, whatever `err` is: it records what user code threw (getters included). */
  note(err: unknown, fallbackCode: string): void {
    this.count++;
    this.last = Object.freeze({
      atMs: this.wallNow(),
      code: backbeatCode(err) ?? `BACKBEAT_${fallbackCode}`,
      message: describeError(err),
    });
  }
}

function backbeatCode(err: unknown): string | undefined {
  try {
    const code = (err as { code?: unknown } | null | undefined)?.code;
    return typeof code === 'string' && code.startsWith('BACKBEAT_') ? code : undefined;
  } catch {
    return undefined;
  }
}
