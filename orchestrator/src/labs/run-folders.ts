import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository the orchestrator runs from; run folders go under its artifacts/ unless told otherwise. */
export const REPO_ROOT = resolve(__dirname, '../../../..');

/** Folders kept per lab: a lab engineer compares a few recent runs; an unbounded pile fills the disk. */
const KEPT = 10;

/** How run and archive folders are named: the moment they were made, which also sorts them. */
const STAMP = /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$/;

export function stamp(at: Date): string {
  return at.toISOString().replace(/[:.]/g, '-');
}

/** Console logs of torn-down labs, per lab. */
export function logArchiveRoot(): string {
  return process.env.SYNRACE_LOG_ARCHIVE ?? '/var/log/synrace';
}

/** Reports, pcaps and TAP of verify, demo and test runs, per lab. */
export function artifactsRoot(): string {
  return process.env.SYNRACE_ARTIFACTS_ROOT ?? join(REPO_ROOT, 'artifacts', 'runs');
}

/**
 * Removes the oldest of the folders this module made in `dir`, beyond the newest KEPT. Only names of its
 * own making are touched, whatever else the directory holds.
 */
function prune(dir: string): void {
  const own = readdirSync(dir).filter((name) => STAMP.test(name)).sort();
  for (const old of own.slice(0, -KEPT)) rmSync(join(dir, old), { recursive: true, force: true });
}

/** A fresh run folder for one lab's verify, demo or test. */
export function newRunFolder(lab: string, at = new Date()): string {
  const dir = join(artifactsRoot(), lab);
  const folder = join(dir, stamp(at));
  mkdirSync(folder, { recursive: true });
  prune(dir);
  return folder;
}

/** Moves a lab's console logs into the archive, where they outlive the lab; returns where they went. */
export function archiveLogs(lab: string, logs: string, startedAt: Date): string | undefined {
  if (!existsSync(logs) || readdirSync(logs).length === 0) return undefined;
  const dir = join(logArchiveRoot(), lab);
  mkdirSync(dir, { recursive: true });
  const target = join(dir, stamp(startedAt));
  rmSync(target, { recursive: true, force: true });
  renameSync(logs, target);
  prune(dir);
  return target;
}
