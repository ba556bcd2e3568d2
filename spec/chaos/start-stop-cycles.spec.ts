/**
 * 200 start/stop cycles against a silent host, in a child process: no handle is left
 * (`process.getActiveResourcesInfo()` against before), no socket stays open at the host, and
 * the child exits by itself (nothing of a stopped client keeps the event loop alive).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { reportFigures } from './chaos-support';

/** A failure guard only: the child needs a few seconds; it must exit by itself well before. */
const EXIT_GUARD_MS = 90_000;

interface CycleReport {
  cycles: number;
  accepted: number;
  openAtEnd: number;
  left: Record<string, number>;
  stopMsP50: number;
  stopMsMax: number;
}

describe('200 start/stop cycles against a silent host', () => {
  it('leaves no handle, no open socket, and the process exits by itself', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(__dirname, 'children', 'start-stop-cycles.ts')],
      { cwd: join(__dirname, '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    let guard: NodeJS.Timeout | undefined;
    const exit = await new Promise<{ code: number | null; timedOut: boolean }>((resolve) => {
      guard = setTimeout(() => {
        child.kill('SIGKILL');
        resolve({ code: null, timedOut: true });
      }, EXIT_GUARD_MS);
      child.once('exit', (code) => resolve({ code, timedOut: false }));
    });
    clearTimeout(guard);

    expect({ stderr, ...exit }).toEqual({ stderr: '', code: 0, timedOut: false });
    const report = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as CycleReport;
    reportFigures('start-stop-cycles', { ...report });
    expect(report.cycles).toBe(200);
    expect(report.accepted).toBeGreaterThan(0);
    expect(report.openAtEnd).toBe(0);
    expect(report.left).toEqual({});
    // stop({ timeoutMs: 100 }) is bounded whatever the dial was doing: no stop waited on a
    // dial's own timer. Generous slack for a loaded machine; the partition test holds the tight
    // bound the issue asks for.
    expect(report.stopMsMax).toBeLessThan(1000);
  });
});
