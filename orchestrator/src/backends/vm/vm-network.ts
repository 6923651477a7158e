import { ipBatch, run } from '@synrace/hardware';
import type { RunDir } from '../../labs/run-dir';
import { MGMT_BRIDGE, UPLINK, type VmLabPlan } from './vm-plan';

/**
 * The VM lab's wiring, all inside its own namespace: a bridge per segment (management, each site LAN, the
 * WAN) with every board's TAPs plugged in, and one veth up to the host, which holds the host's management
 * address. The host's own bridges and firewall see none of the lab's frames.
 */
export async function createVmNetwork(plan: VmLabPlan, runDir: RunDir): Promise<void> {
  runDir.manifest().record({ kind: 'netns', name: plan.netns }, { kind: 'link', name: plan.hostLink });
  await run(['ip', 'netns', 'add', plan.netns]);
  // The segments are plain layer 2, as a site's switch is: br_netfilter would validate (and drop) malformed
  // IPv4 that a real switch passes, and the hostile-WAN tests send it.
  await run(['nsenter', `--net=/run/netns/${plan.netns}`, 'sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=0', 'net.bridge.bridge-nf-call-ip6tables=0', 'net.bridge.bridge-nf-call-arptables=0']);
  const taps = plan.boards.flatMap((b) => b.nics);
  await ipBatch([
    'link set lo up',
    ...plan.bridges.flatMap((br) => [`link add ${br} type bridge`, `link set ${br} up`]),
    ...taps.flatMap((t) => [`tuntap add dev ${t.tap} mode tap`, `link set ${t.tap} master ${t.bridge}`, `link set ${t.tap} up`]),
  ], plan.netns);
  await ipBatch([
    `link add ${plan.hostLink} type veth peer name ${UPLINK} netns ${plan.netns}`,
    `addr add ${plan.mgmtHostAddress}/${plan.mgmtPrefixLength} dev ${plan.hostLink}`,
    `link set ${plan.hostLink} up`,
  ]);
  await ipBatch([`link set ${UPLINK} master ${MGMT_BRIDGE}`, `link set ${UPLINK} up`], plan.netns);
}
