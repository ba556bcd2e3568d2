/**
 * Runs the `backbeat` command in-process through main(), capturing its output, for the specs
 * of spec/cli.
 */
import { main, type TextSink } from '../../lib/cli/main';

/** A text sink that remembers what was written and can wait for text to appear. */
export class Capture implements TextSink {
  text = '';
  private readonly waiters = new Set<() => void>();

  write(text: string): boolean {
    this.text += text;
    for (const waiter of [...this.waiters]) waiter();
    return true;
  }

  /** The lines written so far (without the last, unfinished one). */
  lines(): string[] {
    const lines = this.text.split('\n');
    lines.pop();
    return lines;
  }

  /** The lines parsed as JSON (for `--json` output). */
  json(): Array<Record<string, unknown>> {
    return this.lines().map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /**
   * Resolves once `predicate` holds for the text written (at once if it already does). The
   * test's own timeout is the limit: there is no sleeping here.
   */
  until(predicate: (capture: Capture) => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (!predicate(this)) return;
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
      check();
    });
  }
}

/** A run of the command: its exit code (once done), its output, and its stop switch. */
export interface CliRun {
  readonly code: Promise<number>;
  readonly stdout: Capture;
  readonly stderr: Capture;
  /** Aborts the run's signal, as SIGINT would. */
  stop(): void;
}

/**
 * Starts the command in-process.
 *
 * @example
 * const run = runCli(['keygen']);
 * expect(await run.code).toBe(0);
 * @param argv The user's arguments.
 * @param env Environment variables (none by default, so that the machine's NATS_URL is unused).
 * @return The run.
 */
export function runCli(argv: readonly string[], env: Record<string, string> = {}): CliRun {
  const stdout = new Capture();
  const stderr = new Capture();
  const controller = new AbortController();
  const code = main({ argv, stdout, stderr, env, signal: controller.signal });
  return { code, stdout, stderr, stop: () => controller.abort() };
}
