import { readFileSync } from 'node:fs';

/**
 * The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), undefined when it is
 * gone, or dead and not yet reaped (a zombie). With the pid, it names one process for good: a pid alone
 * may have been reused.
 */
export function processStartTime(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/** Sends a signal to exactly the process that was recorded, never to a later one that got its pid. */
export function signalRecorded(pid: number, startTime: string, signal: NodeJS.Signals | 0): boolean {
  if (processStartTime(pid) !== startTime) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
