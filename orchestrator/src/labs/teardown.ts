import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { ipBatch, killNetnsProcesses, listNetns, mountPointsUnder, pidsMentioning, run, signalRecorded } from '@synrace/hardware';
import { labDiskDir, type LabHostNames } from './host-names';
import type { Progress } from '../progress';
import type { RunDir } from './run-dir';

export interface Leftovers { namespaces: string[]; links: string[]; processes: number[]; mounts: string[]; directories: string[]; runDir: boolean }

/** Programs a lab runs on the host itself; a user's `tail -f` on one of its logs is not among them. */
const LAB_PROGRAMS = /^(socat|nsenter|unshare|tini|\S*\/node|node|sshd|\S*\/sshd) /;

async function hostLinks(): Promise<string[]> {
  return (JSON.parse((await run(['ip', '-j', 'link', 'show'])).stdout) as { ifname: string }[]).map((l) => l.ifname);
}

/**
 * What of one lab still exists on the host, found by its own names only: namespaces under its prefix,
 * links of its host id, processes whose command line names its run directory, mounts below it.
 */
export async function findLeftovers(runDir: RunDir, names: LabHostNames): Promise<Leftovers> {
  return {
    namespaces: listNetns(names.netnsPrefix),
    links: (await hostLinks()).filter((l) => names.ownsLink(l)),
    processes: pidsMentioning(`${runDir.root}/`, LAB_PROGRAMS),
    mounts: mountPointsUnder(runDir.root),
    directories: [labDiskDir(names.lab)].filter((d) => existsSync(d)),
    runDir: existsSync(runDir.root),
  };
}

export function describeLeftovers(l: Leftovers): string[] {
  return [
    ...l.namespaces.map((n) => `namespace ${n}`),
    ...l.links.map((n) => `host link ${n}`),
    ...l.processes.map((p) => `process ${p}`),
    ...l.mounts.map((m) => `mount ${m}`),
    ...l.directories.map((d) => `directory ${d}`),
    ...(l.runDir ? ['run directory'] : []),
  ];
}

export interface HostTeardown { namespaces: number; links: number; processes: number }

/**
 * Removes what the lab's manifest lists, then whatever of the lab's own names is still there (an `up`
 * killed between making an object and recording it). Nothing of another lab, or of anyone else, matches.
 */
export async function removeHostObjects(runDir: RunDir, names: LabHostNames, progress: Progress): Promise<HostTeardown> {
  const manifest = runDir.manifest();
  const found = await findLeftovers(runDir, names);
  const namespaces = [...new Set([...manifest.of('netns').map((n) => n.name), ...found.namespaces])].filter((ns) => listNetns(ns).includes(ns));
  // Every process of every board (its init, and whatever entered from outside) dies at once, as at a power cut.
  let processes = await killNetnsProcesses(namespaces);
  // The lab's own helpers on the host (console server, serial lines) get the chance to flush their logs.
  const helpers = manifest.of('process').filter((p) => signalRecorded(p.pid, p.startTime, 'SIGTERM'));
  for (let waited = 0; waited < 500 && helpers.some((p) => signalRecorded(p.pid, p.startTime, 0)); waited += 10) await new Promise((r) => setTimeout(r, 10));
  helpers.forEach((p) => signalRecorded(p.pid, p.startTime, 'SIGKILL'));
  processes += helpers.length;
  for (const pid of found.processes) {
    try {
      process.kill(pid, 'SIGKILL');
      processes += 1;
    } catch {
      // gone already
    }
  }
  for (const mount of [...manifest.of('mount').map((m) => m.path), ...found.mounts].sort((a, b) => b.length - a.length)) {
    await run(['umount', '-l', mount], { allowFail: true });
  }
  const present = new Set(await hostLinks());
  const links = [...new Set([...manifest.of('link').map((l) => l.name), ...found.links])].filter((l) => present.has(l));
  // Only now that every process that held them is gone (a QEMU writes to its disk file until it dies).
  for (const dir of new Set([...manifest.of('directory').map((d) => d.path), ...found.directories])) await rm(dir, { recursive: true, force: true });
  // Host links first: deleting a namespace takes the host end of its veth with it.
  await ipBatch(links.map((n) => `link del ${n}`));
  await ipBatch(namespaces.map((ns) => `netns del ${ns}`));
  progress.step(`removed ${namespaces.length} namespaces, ${links.length} host links, ${processes} processes`);
  return { namespaces: namespaces.length, links: links.length, processes };
}
