import { existsSync } from 'node:fs';
import { listNetns, mountPointsUnder, pidsMentioning, run } from '@synrace/hardware';
import type { RunDir } from '../run-dir';
import { LAB_PREFIX, MGMT_BRIDGE, MGMT_HOST_LINK_PREFIX } from './lab-plan';

export interface Leftovers { namespaces: string[]; links: string[]; processes: number[]; mounts: string[]; runDir: boolean }

/** What of a lab still exists on the host: `down` must leave every list empty. */
export async function findLeftovers(runDir: RunDir): Promise<Leftovers> {
  const links = (JSON.parse((await run(['ip', '-j', 'link', 'show'])).stdout) as { ifname: string }[])
    .map((l) => l.ifname)
    .filter((n) => n === MGMT_BRIDGE || new RegExp(`^${MGMT_HOST_LINK_PREFIX}\\d+$`).test(n));
  return {
    namespaces: listNetns(`${LAB_PREFIX}-`),
    links,
    processes: pidsMentioning(runDir.root, /./),
    mounts: mountPointsUnder(runDir.root),
    runDir: existsSync(runDir.root),
  };
}

export function describeLeftovers(l: Leftovers): string[] {
  return [
    ...l.namespaces.map((n) => `namespace ${n}`),
    ...l.links.map((n) => `host link ${n}`),
    ...l.processes.map((p) => `process ${p}`),
    ...l.mounts.map((m) => `mount ${m}`),
    ...(l.runDir ? ['run directory'] : []),
  ];
}
