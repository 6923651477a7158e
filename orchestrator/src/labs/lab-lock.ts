import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { processStartTime } from '@synrace/hardware';
import type { RunDir } from './run-dir';

/** Who holds a lock: a pid alone is not enough, since pids are reused; the start time pins the process. */
export interface LockOwner {
  pid: number;
  startTime: string;
  command: string;
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const [pid, startTime, ...command] = readFileSync(file, 'utf8').trim().split(' ');
    return { pid: Number(pid), startTime, command: command.join(' ') };
  } catch {
    return undefined;
  }
}

function isLive(owner: LockOwner): boolean {
  return processStartTime(owner.pid) === owner.startTime;
}

function createExclusive(file: string, owner: LockOwner): boolean {
  try {
    const fd = openSync(file, 'wx', 0o600);
    writeSync(fd, `${owner.pid} ${owner.startTime} ${owner.command}\n`);
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * A lock file created with O_EXCL holding the owner's pid and process start time. A lock whose owner is
 * gone is taken over through a second O_EXCL file named after that dead owner: only one process can
 * create it, so only one removes the stale lock, and two processes never both hold the lock.
 * `overOwnHold`: a hold of this very process does not stop the taker. A process ending on a signal abandons its
 * own operation on the lab, and what it does last (taking the lab down) must not wait for that operation's release.
 */
export function takeLock(file: string, command: string, busy: (owner: LockOwner) => Error, overOwnHold = false): () => void {
  const me: LockOwner = { pid: process.pid, startTime: processStartTime(process.pid)!, command };
  const release = () => {
    if (readOwner(file)?.startTime === me.startTime && readOwner(file)?.pid === me.pid) rmSync(file, { force: true });
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (createExclusive(file, me)) return release;
    const owner = readOwner(file);
    if (owner === undefined) continue; // released between our create and our read
    if (owner.pid === me.pid && owner.startTime === me.startTime) {
      if (overOwnHold) return release;
      throw new Error(`${file} is already held by this process (${command})`);
    }
    if (isLive(owner)) throw busy(owner);
    const takeover = `${file}.takeover-${owner.pid}-${owner.startTime}`;
    if (!createExclusive(takeover, me)) continue; // another process is taking this stale lock over
    try {
      const still = readOwner(file);
      if (still?.pid === owner.pid && still.startTime === owner.startTime) rmSync(file, { force: true });
    } finally {
      // Left until the stale lock is gone, so no late reader of the dead owner's lock can remove ours.
      rmSync(takeover, { force: true });
    }
  }
  throw new Error(`could not take the lock ${file}: it keeps changing hands`);
}

/** Takes a lab's lock for one command; a live holder is an error naming its command and pid. */
export function lockLab(runDir: RunDir, command: string, overOwnHold = false): () => void {
  runDir.create();
  const file = runDir.path('lock');
  return takeLock(file, command, (owner) => new Error(`the lab in ${runDir.root} is busy: \`synrace ${owner.command}\` (pid ${owner.pid}) holds ${file}`), overOwnHold);
}
