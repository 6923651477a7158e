import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTopology } from '@synrace/netem-profiles';
import { DEFAULT_TOPOLOGY, LabNotDownError, renderTable, resolveTopology, withLab, type BringUpTimings, type LabUpOptions } from '@synrace/orchestrator';
import type { BenchContext, BenchSection, SectionReport } from './section';
import { writeSyntheticLab } from './synthetic-lab';

const SYNTHETIC_SIZES = [10, 25, 50];
/** Fifty sshds starting at once on two cores take longer than the default 20 s to all answer. */
const BOOT_TIMEOUT_MS = 90_000;
const TIMEOUTS = { booted: BOOT_TIMEOUT_MS, reachable: BOOT_TIMEOUT_MS };

interface LabScalePoint {
  lab: string;
  boards: number;
  sites: number;
  upSeconds?: number;
  downSeconds?: number;
  /** When the host objects were made, and when the last board reached each state, from the start of `up`. */
  phases?: BringUpTimings;
  /** A size that fails (a boot timeout, say) is reported as such; the curve goes on with the next one. */
  error?: string;
}

async function timeLab(context: BenchContext, lab: string, boards: number, sites: number, options: LabUpOptions): Promise<LabScalePoint> {
  context.progress.step(`scale: bringing up ${lab} (${boards} boards) and taking it down`);
  try {
    const { value: phases, upSeconds, downSeconds } = await withLab({ name: `bench-scale-${boards}`, ...options, timeouts: TIMEOUTS }, context.signal, async (up) => up.state().timings);
    context.progress.step(`scale: ${lab} up ${upSeconds.toFixed(1)} s, down ${downSeconds.toFixed(1)} s`);
    return { lab, boards, sites, upSeconds, downSeconds, phases };
  } catch (err) {
    if (context.signal.aborted || err instanceof LabNotDownError) throw err;
    context.progress.step(`scale: ${lab} failed: ${(err as Error).message}`);
    return { lab, boards, sites, error: (err as Error).message };
  }
}

async function measure(context: BenchContext): Promise<LabScalePoint[]> {
  const world = loadTopology(resolveTopology(DEFAULT_TOPOLOGY));
  const points = [await timeLab(context, world.name, world.boards.length, world.sites.length, {})];
  const dir = mkdtempSync(join(tmpdir(), 'synrace-bench-labs-'));
  try {
    for (const size of SYNTHETIC_SIZES) {
      const files = writeSyntheticLab(dir, size);
      points.push(await timeLab(context, files.name, files.boards, files.sites, { topology: files.topologyFile, profile: files.profileFile }));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return points;
}

const PHASES = ['powered', 'booted', 'reachable', 'provisioned'] as const;
const seconds = (ms: number | undefined) => (ms === undefined ? '' : (ms / 1000).toFixed(1));

function render(points: LabScalePoint[]): string {
  const rows = points.map((p) =>
    p.upSeconds === undefined || p.downSeconds === undefined
      ? [p.lab, p.boards, p.sites, `FAILED: ${p.error}`, '', '', '', '', '', '', '']
      : [p.lab, p.boards, p.sites, seconds(p.phases?.createdMs), ...PHASES.map((phase) => seconds(p.phases?.allReachedMs[phase])), p.upSeconds.toFixed(1), p.downSeconds.toFixed(1), ((p.upSeconds * 1000) / p.boards).toFixed(0)],
  );
  return [
    'Phases: seconds from the start of up until the host objects were made (created) and until the last board reached each state.',
    renderTable(['lab', 'boards', 'sites', 'created', ...PHASES, 'up s', 'down s', 'up ms per board'], rows),
  ].join('\n');
}

export const labScale: BenchSection = {
  name: 'scale',
  title: 'Lab scale curve: bring-up (boards booted, reachable over SSH, provisioned) and teardown',
  needs: 'host',
  async run(context): Promise<SectionReport> {
    const points = await measure(context);
    return { result: points, text: render(points) };
  },
};
