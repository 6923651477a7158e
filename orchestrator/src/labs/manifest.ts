import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { processStartTime } from '@synrace/hardware';

/** One host object a lab made; `down` removes exactly these (and name-matched leftovers of its own id). */
export type ManifestEntry =
  | { kind: 'netns'; name: string }
  | { kind: 'link'; name: string }
  | { kind: 'process'; what: string; pid: number; startTime: string }
  | { kind: 'mount'; path: string }
  /** A directory outside the run directory (on disk, not tmpfs): a VM lab's disk files. */
  | { kind: 'directory'; path: string };

export type ManifestKind = ManifestEntry['kind'];

/**
 * The lab's record of what it made on the host, written atomically before each object is made (a
 * process: right after it started, since its pid is not known before). A crashed `up` thus leaves a
 * list for `down` to follow, not guesses.
 */
export class Manifest {
  private entries: ManifestEntry[];

  constructor(private readonly file: string) {
    this.entries = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { entries: ManifestEntry[] }).entries : [];
  }

  list(): readonly ManifestEntry[] {
    return this.entries;
  }

  of<K extends ManifestKind>(kind: K): Extract<ManifestEntry, { kind: K }>[] {
    return this.entries.filter((e): e is Extract<ManifestEntry, { kind: K }> => e.kind === kind);
  }

  /** Records objects about to be made. */
  record(...entries: ManifestEntry[]): void {
    this.entries.push(...entries);
    this.save();
  }

  /** Records a process that has just started, with its start time so `down` never kills a successor of its pid. */
  recordProcess(what: string, pid: number): void {
    const startTime = processStartTime(pid);
    if (startTime !== undefined) this.record({ kind: 'process', what, pid, startTime });
  }

  /** Forgets objects that are gone (a process that was restarted, a link removed by `down`). */
  forget(match: (e: ManifestEntry) => boolean): void {
    this.entries = this.entries.filter((e) => !match(e));
    this.save();
  }

  private save(): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ entries: this.entries }, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
