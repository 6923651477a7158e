import { readdirSync, readFileSync } from 'node:fs';
import { run } from '../host-command';

/** Names of the network namespaces iproute2 knows, optionally only those starting with prefix. */
export function listNetns(prefix = ''): string[] {
  let names: string[] = [];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return [];
  }
  return names.filter((n) => n.startsWith(prefix)).sort();
}

export async function netnsPids(netns: string): Promise<number[]> {
  const { stdout } = await run(['ip', 'netns', 'pids', netns], { allowFail: true });
  return stdout.split(/\s+/).filter(Boolean).map(Number);
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone: that is the goal
  }
}

/** SIGKILL, like cutting power; repeated because a dying shell may still fork. */
export async function killNetnsProcesses(netns: string): Promise<number> {
  let killed = 0;
  for (let round = 0; round < 20; round++) {
    const pids = await netnsPids(netns);
    if (pids.length === 0) return killed;
    pids.forEach((pid) => kill(pid, 'SIGKILL'));
    killed += pids.length;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`processes in network namespace ${netns} survive SIGKILL: ${(await netnsPids(netns)).join(' ')}`);
}

export async function linksOf(netns: string): Promise<{ ifname: string; up: boolean }[]> {
  const { stdout } = await run(['ip', '-n', netns, '-j', 'link', 'show']);
  const links = JSON.parse(stdout) as { ifname: string; flags: string[] }[];
  return links.filter((l) => l.ifname !== 'lo').map((l) => ({ ifname: l.ifname, up: l.flags.includes('UP') }));
}

/** The process's command line, space-joined; undefined once it has exited. */
export function cmdlineOf(pid: number | string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined; // exited
  }
}

/** Stops a process we started earlier, but only if the pid still runs the command we expect (pids get reused). */
export function killIfMatches(pid: number, cmdlineMustContain: string, signal: NodeJS.Signals = 'SIGTERM'): boolean {
  if (!cmdlineOf(pid)?.includes(cmdlineMustContain)) return false;
  kill(pid, signal);
  return true;
}

/** Live processes whose command line mentions marker and matches shape: how `down` finds what a crashed `up` started. */
export function pidsMentioning(marker: string, shape: RegExp): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = cmdlineOf(entry);
    if (cmdline?.includes(marker) && shape.test(cmdline)) found.push(Number(entry));
  }
  return found;
}
