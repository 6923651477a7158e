import type { Topology } from '@synrace/netem-profiles';

/** A VM board's first NIC is its management port, as a Pi's on-board Ethernet is on the shelf. */
export const VM_MGMT_NIC = 'eth0';

/** The guest's name of a board's n-th topology interface: its NICs follow the management port in topology order. */
export function vmNicName(interfaceIndex: number): string {
  return `eth${interfaceIndex + 1}`;
}

/**
 * The topology as VM boards see it: each interface under the name the guest kernel gives its NIC
 * (net.ifnames=0), so agent configs, tc trees and captures name real NICs, as an inventory's do on a shelf.
 */
export function withVmInterfaceNames(topology: Topology): Topology {
  return { ...topology, boards: topology.boards.map((b) => ({ ...b, interfaces: b.interfaces.map((i, n) => ({ ...i, name: vmNicName(n) })) })) };
}
