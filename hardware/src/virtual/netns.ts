import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
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

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone: that is the goal
  }
}

function netnsInode(ns: string): number | undefined {
  try {
    return statSync(`/run/netns/${ns}`).ino;
  } catch {
    return undefined;
  }
}

/** Processes whose network namespace is one of these, found in one pass over /proc. */
function pidsInNamespaces(inodes: Set<number>): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const link = readlinkSync(`/proc/${entry}/ns/net`);
      if (inodes.has(Number(/\[(\d+)\]/.exec(link)?.[1]))) found.push(Number(entry));
    } catch {
      // exited, or a kernel thread
    }
  }
  return found;
}

/**
 * SIGKILL to every process in any of these network namespaces, like cutting the power of every board at
 * once; repeated while a dying shell may still fork. One pass over /proc per round, however many namespaces.
 */
export async function killNetnsProcesses(namespaces: string[]): Promise<number> {
  const inodes = new Set(namespaces.map(netnsInode).filter((i): i is number => i !== undefined));
  if (inodes.size === 0) return 0;
  const killed = new Set<number>();
  for (let round = 0; round < 50; round++) {
    const pids = pidsInNamespaces(inodes);
    if (pids.length === 0) return killed.size;
    for (const pid of pids) {
      kill(pid, 'SIGKILL');
      killed.add(pid);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`processes in network namespaces ${namespaces.join(', ')} survive SIGKILL: ${pidsInNamespaces(inodes).join(' ')}`);
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
