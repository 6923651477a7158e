import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { buildBoardImage, type BoardArch } from '@synrace/hardware';
import { judgedRttMs, renderTable, withLab, type Lab, type RttSample } from '@synrace/orchestrator';
import type { BenchContext, HostSection } from './section';

const LAB = 'bench-vm';
/** The same profile on namespace boards through the userspace delay line: the other side of the RTT comparison. */
const DELAY_LINE_LAB = 'bench-vm-delay-line';
const ATLANTIC = { topology: 'atlantic', profile: 'atlantic' };
const PINGS = 20;
const IDLE_SECONDS = 20;

interface ImageFigures { arch: BoardArch; builtSeconds: number; cachedLookupSeconds: number; sizeMiB: number }
interface BoardCost { board: string; arch: string; guestMiB: number; rssMiB: number; idleCpuPercent: number }
interface PathError { path: string; expectedMs: number; vmMs: number | null; delayLineMs: number | null }

/** Each image's cold build time (the builder's own record of it) and what a cache hit costs now. */
async function images(): Promise<ImageFigures[]> {
  const figures: ImageFigures[] = [];
  for (const arch of ['amd64', 'arm64'] as const) {
    await buildBoardImage({ arch });
    const hit = await buildBoardImage({ arch });
    figures.push({ arch, builtSeconds: hit.manifest.buildSeconds, cachedLookupSeconds: hit.seconds, sizeMiB: hit.manifest.sizeBytes / 2 ** 20 });
  }
  return figures;
}

/** CPU (share of one host core) and resident memory of each board's QEMU, over a quiet spell. */
async function boardCosts(lab: Lab): Promise<BoardCost[]> {
  const hz = 100;
  const boards = lab.state().boards.map((b) => ({ board: b.name, machine: b.vm!.machine }));
  const pids = await Promise.all(boards.map(async (b) => Number((await readFile(join(b.machine.stateDir, 'qemu.pid'), 'utf8')).trim())));
  const ticks = async (pid: number) => {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
    return Number(fields[11]) + Number(fields[12]);
  };
  const before = await Promise.all(pids.map(ticks));
  await delay(IDLE_SECONDS * 1000);
  const after = await Promise.all(pids.map(ticks));
  return Promise.all(boards.map(async (b, i) => {
    const rss = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pids[i]}/status`, 'utf8'));
    return { board: b.board, arch: b.machine.arch, guestMiB: b.machine.memoryMiB, rssMiB: Number(rss?.[1] ?? 0) / 1024, idleCpuPercent: (100 * (after[i] - before[i])) / hz / IDLE_SECONDS };
  }));
}

const key = (s: RttSample) => `${s.from}->${s.to}`;

async function vmLab(context: BenchContext) {
  context.progress.step(`vm-lab: bringing up ${LAB} (QEMU boards, kernel netem)`);
  const run = await withLab({ name: LAB, backend: 'vm', ...ATLANTIC }, context.signal, async (lab) => {
    const timings = lab.state().timings!;
    const arch = new Map(lab.state().boards.map((b) => [b.name, b.vm!.machine.arch]));
    const rtt = await lab.measureRtt(PINGS);
    context.progress.step('vm-lab: measuring each board idle');
    return { timings, arch, rtt, costs: await boardCosts(lab) };
  });
  return { ...run.value, upSeconds: run.upSeconds, downSeconds: run.downSeconds };
}

export const vmLabBench: HostSection = {
  name: 'vm-lab',
  title: 'VM lab: board images, boot to reachable per board, lab up time, RTT error of kernel netem beside the delay line, cost per board',
  needs: 'host',
  async run(context) {
    context.progress.step('vm-lab: board images');
    const imageFigures = await images();
    const vm = await vmLab(context);
    context.progress.step(`vm-lab: the same profile through the userspace delay line (${DELAY_LINE_LAB})`);
    const delayLine = await withLab({ name: DELAY_LINE_LAB, delay: 'userspace', ...ATLANTIC }, context.signal, (lab) => lab.measureRtt(PINGS));
    const lineByPath = new Map(delayLine.value.map((s) => [key(s), s]));
    const paths: PathError[] = vm.rtt.map((s) => ({ path: key(s), expectedMs: s.expectedMs, vmMs: judgedRttMs(s), delayLineMs: judgedRttMs(lineByPath.get(key(s))!) }));
    const boards = Object.entries(vm.timings.stepMs ?? {}).map(([board, steps]) => ({ board, arch: vm.arch.get(board), ...steps, bootToReachableMs: (steps.booted ?? 0) + (steps.reachable ?? 0) }));
    const result = { images: imageFigures, upSeconds: vm.upSeconds, downSeconds: vm.downSeconds, timings: vm.timings, boards, paths, costs: vm.costs };
    const err = (ms: number | null, expected: number) => (ms === null ? 'lost' : `${(ms - expected).toFixed(2)}`);
    const text = [
      renderTable(['image', 'cold build s', 'cached look-up s', 'MiB'], imageFigures.map((i) => [i.arch, i.builtSeconds.toFixed(0), i.cachedLookupSeconds.toFixed(2), i.sizeMiB.toFixed(0)])),
      '',
      `VM lab (${ATLANTIC.topology}, TCG) up in ${vm.upSeconds.toFixed(0)} s (boards' platform made in ${(vm.timings.createdMs / 1000).toFixed(0)} s), down in ${vm.downSeconds.toFixed(1)} s`,
      renderTable(['board', 'arch', 'power-on s', 'boot (3 boots) s', 'SSH s', 'boot to reachable s', 'provisioned s'], boards.map((b) => [b.board, b.arch ?? '', ((b.powered ?? 0) / 1000).toFixed(1), ((b.booted ?? 0) / 1000).toFixed(0), ((b.reachable ?? 0) / 1000).toFixed(1), (b.bootToReachableMs / 1000).toFixed(0), ((b.provisioned ?? 0) / 1000).toFixed(0)])),
      '',
      `RTT, median of ${PINGS} pings, error against the profile (ms): kernel netem in the guests beside the userspace delay line on namespace boards`,
      renderTable(['path', 'profile ms', 'netem error', 'delay line error'], paths.map((p) => [p.path, p.expectedMs.toFixed(1), err(p.vmMs, p.expectedMs), err(p.delayLineMs, p.expectedMs)])),
      '',
      `each board's QEMU over ${IDLE_SECONDS} s with the lab idle`,
      renderTable(['board', 'arch', 'guest MiB', 'resident MiB', 'CPU % of a core'], vm.costs.map((c) => [c.board, c.arch, c.guestMiB, c.rssMiB.toFixed(0), c.idleCpuPercent.toFixed(1)])),
    ].join('\n');
    return { result, text };
  },
};
