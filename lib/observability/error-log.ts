import type { LastError } from './metrics';

/** The errors a client survived: counted, the last kept as `metrics().errors.last`. */
export class ErrorLog {
  count = 0;
  last: LastError | null = null;

  constructor(private readonly wallNow: () => number) {}

  note(err: unknown, fallbackCode: string): void {
    this.count++;
    const code =
      typeof (err as { code?: unknown })?.code === 'string' &&
      (err as { code: string }).code.startsWith('BACKBEAT_')
        ? (err as { code: string }).code
        : `BACKBEAT_${fallbackCode}`;
    const message = err instanceof Error ? err.message : String(err);
    this.last = Object.freeze({ atMs: this.wallNow(), code, message });
  }
}
