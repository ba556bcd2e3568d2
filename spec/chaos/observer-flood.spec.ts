/**
 * An observer's memory under a flood of distinct agents (issue 14, item 3): bounded in count
 * (100,000 agents by default, the least recently heard evicted and counted) and released with
 * time with no further claim. Each flood runs in a child process started with --expose-gc
 * (spec/chaos/flood-observer.ts), so the heap is measured after real collections and the
 * figures are not those of jest's own process.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const SCRIPT = join(__dirname, 'flood-observer.ts');
const ROOT = join(__dirname, '..', '..');
const AGENTS = 200_000;
const CAP = 100_000;
const MAX_CLAIM_AGE_MS = 3000;

interface FloodFigures {
  mode: string;
  stillObserving: boolean;
  accepted: number;
  rejected: number;
  evicted: number;
  baselineMb: number;
  afterFloodMb: number;
  releasedMb: number;
  releasedAfterMs: number;
}

/** Runs the flood script; resolves with its figures once it has ended by itself. */
function flood(mode: 'signed' | 'unsigned'): Promise<FloodFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', SCRIPT, mode, String(AGENTS), String(MAX_CLAIM_AGE_MS)],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`the flood script exited with ${code}:\n${err}`));
      else resolve(JSON.parse(out.trim()) as FloodFigures);
    });
  });
}

describe('an observer flooded with 200,000 distinct agents', () => {
  it.each(['unsigned', 'signed'] as const)(
    'stays bounded by the cap and is released with time, no claim needed (%s claims)',
    async (mode) => {
      const figures = await flood(mode);
      // Shown in the test log: the figures the report quotes.
      process.stdout.write(`observer flood: ${JSON.stringify(figures)}\n`);
      expect(figures).toMatchObject({
        accepted: AGENTS,
        rejected: 0,
        evicted: AGENTS - CAP,
        stillObserving: true,
      });
      // Bounded: what the flood left is the cap's worth (well under 1 KB an agent), not more.
      const grown = figures.afterFloodMb - figures.baselineMb;
      expect(grown).toBeLessThan((CAP * 1024) / (1024 * 1024));
      expect(grown).toBeGreaterThan(0);
      // Released with time: back near the start within the claim age and a few seconds.
      expect(figures.releasedMb - figures.baselineMb).toBeLessThan(5);
      expect(figures.releasedAfterMs).toBeLessThan(MAX_CLAIM_AGE_MS + 10_000);
      // And the script ended by itself, though an observer still remembered an agent for an
      // hour: the sweep's timer does not keep the process alive.
    },
    // Signed: 200,000 signatures made and checked, minutes on a busy machine.
    900_000,
  );
});
