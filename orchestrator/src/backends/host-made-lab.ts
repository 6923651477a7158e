import { copyFileSync, mkdirSync } from 'node:fs';
import type { BackendKind, BoardRecord, LabState } from '../labs/lab-state';
import { chooseManagementSubnet, lockRegistry } from '../labs/registry';
import type { CreateRequest } from './lab-backend';

/** What a host-made lab's plan has in common: the host's end of the management network. */
export interface ManagementPlan { mgmtHostAddress: string; mgmtPrefixLength: number }

/**
 * The first steps of a lab whose boards this host makes (namespace or QEMU boards): the run directory with
 * copies of the inputs, then, under the registry lock, a management subnet no other lab uses, the plan for
 * it and the lab's first state, every board off, written before anything else is made.
 */
export async function startHostMadeLab<P extends ManagementPlan>(
  request: CreateRequest,
  kind: Exclude<BackendKind, 'hardware'>,
  delay: LabState['delay'],
  makePlan: (subnet: string) => P,
  boardsOf: (plan: P) => BoardRecord[],
): Promise<{ plan: P; state: LabState }> {
  const { runDir, inputs, progress } = request;
  runDir.create();
  mkdirSync(runDir.path('logs'), { recursive: true });
  copyFileSync(inputs.topologyFile, runDir.path('topology.yaml'));
  copyFileSync(inputs.profileFile, runDir.path('profile.yaml'));
  const releaseRegistry = await lockRegistry(`up --name ${request.name}`);
  try {
    const subnet = await chooseManagementSubnet(request.name, request.mgmtSubnet ?? inputs.topology.management.subnet, request.mgmtSubnet !== undefined);
    if (subnet !== inputs.topology.management.subnet) progress.step(`management subnet ${inputs.topology.management.subnet} is taken; lab ${request.name} uses ${subnet}`);
    const plan = makePlan(subnet);
    const state: LabState = {
      version: 2,
      name: request.name,
      backend: kind,
      phase: 'creating',
      startedAt: new Date().toISOString(),
      topologyFile: runDir.path('topology.yaml'),
      profileFile: runDir.path('profile.yaml'),
      management: { subnet, hostAddress: plan.mgmtHostAddress, prefixLength: plan.mgmtPrefixLength },
      delay,
      boards: boardsOf(plan),
    };
    runDir.writeState(state);
    return { plan, state };
  } finally {
    releaseRegistry();
  }
}
