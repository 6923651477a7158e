import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { run } from '../host-command';

export function mountPointsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((mp): mp is string => mp !== undefined && (mp === dir || mp.startsWith(dir + '/')));
}

/**
 * A persistent namespace file can only be bind-mounted below a private mount, the same trick
 * iproute2 plays for /run/netns; so the directory holding the boards' UTS files is made one.
 */
export async function prepareUtsDir(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  if (!mountPointsUnder(dir).includes(dir)) await run(['mount', '--bind', dir, dir]);
  await run(['mount', '--make-private', dir]);
}

/** Gives a board its own hostname in a UTS namespace that outlives every process of the board. */
export async function createUtsNamespace(file: string, hostname: string): Promise<void> {
  writeFileSync(file, '');
  await run(['unshare', `--uts=${file}`, 'hostname', hostname]);
}

/** Unmounts the UTS files and the directory itself, deepest first; safe to call when nothing is mounted. */
export async function releaseUtsDir(dir: string): Promise<void> {
  const mounts = mountPointsUnder(dir).sort((a, b) => b.length - a.length);
  for (const mp of mounts) await run(['umount', '-l', mp], { allowFail: true });
}
