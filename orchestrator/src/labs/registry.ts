import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatAddress, networkOf, overlaps, parsePrefix, type Prefix } from '@synrace/netem-profiles';
import { run } from '@synrace/hardware';
import type { LabState } from './lab-state';
import { takeLock } from './lab-lock';
import { RunDir } from './run-dir';

/** A lab's name: it becomes part of namespace names, folder names and the host id of its links. */
export const LAB_NAME = /^[a-z][a-z0-9-]{0,23}$/;

/** Where every lab of this host keeps its run directory, one folder per lab. */
export function labsRoot(): string {
  return process.env.SYNRACE_RUN_DIR ?? '/run/synrace';
}

export function checkLabName(name: string, where = '--name'): string {
  if (!LAB_NAME.test(name)) {
    throw new Error(`${where} "${name}": a lab name is 1-24 characters, a lowercase letter first, then lowercase letters, digits and '-' (e.g. "world" or "team-b")`);
  }
  return name;
}

export function labRunDir(name: string): RunDir {
  return new RunDir(join(labsRoot(), checkLabName(name)));
}

export interface LabOnHost {
  name: string;
  runDir: RunDir;
  /** Absent while an `up` has not written it yet, or after a crash before it did. */
  state?: LabState;
}

/** Every lab this host has, up or half made (a run directory with a manifest but no state). */
export function listLabs(): LabOnHost[] {
  const root = labsRoot();
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && LAB_NAME.test(e.name))
    .map((e) => {
      const runDir = new RunDir(join(root, e.name));
      return { name: e.name, runDir, state: runDir.exists() ? runDir.readState<LabState>() : undefined };
    })
    .filter((l) => l.state !== undefined || existsSync(l.runDir.path('manifest.json')));
}

export class NoLabError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoLabError';
  }
}

/** The lab a command works on: the one named, or the only one there is. */
export function resolveLab(requested?: string): string {
  const labs = listLabs();
  if (requested !== undefined) {
    checkLabName(requested, '--lab');
    if (!labs.some((l) => l.name === requested)) {
      throw new NoLabError(`no lab "${requested}" is up${labs.length ? `; labs: ${labs.map((l) => l.name).join(', ')}` : ''}; start one with \`synrace up --name ${requested}\``);
    }
    return requested;
  }
  if (labs.length === 1) return labs[0].name;
  if (labs.length === 0) throw new NoLabError(`no lab is up (no lab in ${labsRoot()}); start one with \`synrace up\``);
  throw new Error(`${labs.length} labs are up (${labs.map((l) => l.name).join(', ')}): say which with --lab NAME`);
}

/** Choosing a subnet takes a fraction of a second: an `up` started beside another waits this long for its turn. */
const REGISTRY_WAIT_MS = 10_000;
const REGISTRY_POLL_MS = 50;

class RegistryBusyError extends Error {}

/**
 * Held while a lab picks its management subnet and writes it down, so two `up`s cannot pick the same one. Two
 * `up`s started together (two terminals, test suites side by side) take turns: the later one waits for the lock.
 */
export async function lockRegistry(command: string, waitMs = REGISTRY_WAIT_MS): Promise<() => void> {
  const giveUpAt = Date.now() + waitMs;
  for (;;) {
    try {
      return takeLock(join(labsRoot(), '.registry.lock'), command, (owner) => new RegistryBusyError(`another \`synrace ${owner.command}\` (pid ${owner.pid}) has been choosing its management subnet for ${waitMs / 1000} s; try again once it is done`));
    } catch (err) {
      if (!(err instanceof RegistryBusyError) || Date.now() >= giveUpAt) throw err;
      await new Promise((r) => setTimeout(r, REGISTRY_POLL_MS));
    }
  }
}

/** Prefixes the host already routes that are not any lab's: a lab's management subnet must not shadow them. */
async function hostRoutes(labSubnets: string[]): Promise<{ prefix: Prefix; dev: string }[]> {
  const { stdout } = await run(['ip', '-j', '-4', 'route', 'show']);
  return (JSON.parse(stdout) as { dst: string; dev: string }[])
    .filter((r) => r.dst !== 'default' && !labSubnets.includes(r.dst))
    .flatMap((r) => {
      const prefix = parsePrefix(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
      return prefix ? [{ prefix, dev: r.dev }] : [];
    });
}

/**
 * The management subnet for a new lab: the one asked for (refused, naming the other lab, when it
 * overlaps one), else the topology's if it is free, else the next free one of the same size after it.
 */
export async function chooseManagementSubnet(lab: string, preferred: string, explicit: boolean): Promise<string> {
  const others = listLabs().filter((l) => l.name !== lab && l.state?.management);
  const taken = others.map((l) => ({ lab: l.name, prefix: parsePrefix(l.state!.management!.subnet)! }));
  const routes = await hostRoutes(others.map((l) => l.state!.management!.subnet));
  const start = parsePrefix(preferred);
  if (!start) throw new Error(`management subnet "${preferred}" is not an IPv4 prefix such as 10.250.0.0/24`);
  const conflict = (p: Prefix): string | undefined => {
    const lab = taken.find((t) => overlaps(t.prefix, p));
    if (lab) return `lab ${lab.lab} uses ${formatAddress(lab.prefix.address)}/${lab.prefix.length}`;
    const route = routes.find((r) => overlaps(r.prefix, p));
    return route ? `the host routes ${formatAddress(route.prefix.address)}/${route.prefix.length} on ${route.dev}` : undefined;
  };
  if (explicit) {
    const why = conflict(start);
    if (why) throw new Error(`management subnet ${preferred} for lab ${lab} overlaps: ${why}; pick another with --mgmt-subnet, or take that lab down`);
    return preferred;
  }
  const size = 2 ** (32 - start.length);
  for (let i = 0; i < 256; i++) {
    const candidate = { address: (networkOf(start) + i * size) >>> 0, length: start.length };
    if (!conflict(candidate)) return `${formatAddress(candidate.address)}/${candidate.length}`;
  }
  throw new Error(`no free management subnet of /${start.length} from ${preferred} on: give one with --mgmt-subnet`);
}
