import { isRouter, type Board, type Topology } from '@synrace/netem-profiles';
import type { BoardArch, DataInterface, FirstBootSettings } from '@synrace/hardware';
import type { LabHostNames } from '../../labs/host-names';
import { VM_MGMT_NIC } from '../../inputs/vm-topology';
import { mgmtAddresses, routesFor } from '../board-addressing';

/** A board's virtio NIC: its TAP in the lab's namespace, plugged into one of the lab's bridges. */
export interface VmNicPlan { tap: string; mac: string; bridge: string }

export interface VmBoardPlan {
  name: string;
  site: string;
  roles: Board['roles'];
  arch: BoardArch;
  memoryMiB: number;
  mgmtAddress: string;
  /** The management port first (the guest's eth0), then one NIC per topology interface, in order. */
  nics: VmNicPlan[];
  /** What its flash writes for first boot, but the keys, which the lab makes. */
  firstBoot: Omit<FirstBootSettings, 'authorizedKeys'>;
}

export interface VmLabPlan {
  netns: string;
  /** The host's end of the management uplink into the lab's namespace; it holds the host's management address. */
  hostLink: string;
  mgmtSubnet: string;
  mgmtHostAddress: string;
  mgmtPrefixLength: number;
  /** The management bridge, one bridge per site LAN, and the WAN's. */
  bridges: string[];
  boards: VmBoardPlan[];
}

export const MGMT_BRIDGE = 'mgmt';
export const WAN_BRIDGE = 'wan';
/** The lab namespace's end of the host's management uplink. */
export const UPLINK = 'uplink';

/** Guest memory: Node with the agent, nginx and systemd fit in 512 MiB on either architecture, since nothing is compiled on a board. */
const VM_MEMORY_MIB = 512;

/** QEMU's locally administered prefix, then board and NIC: unique within the lab's own layer-2 segments. */
function vmMac(board: number, nic: number): string {
  return ['52', '54', '00', '53', (board & 0xff).toString(16).padStart(2, '0'), nic.toString(16).padStart(2, '0')].join(':');
}

/** The lab's namespace, bridges, TAPs and each board's first-boot network, worked out before anything is made. */
export function planVmLab(topology: Topology, names: LabHostNames, mgmtSubnet: string): VmLabPlan {
  const mgmt = mgmtAddresses(mgmtSubnet, topology.boards.length);
  const lanBridge = new Map(topology.sites.filter((s) => s.lan).map((s, i) => [s.name, `lan${i}`]));
  const boards = topology.boards.map((board, index): VmBoardPlan => {
    const routes = routesFor(topology, board);
    const defaultRoute = routes.find((r) => r.to === 'default');
    const dataInterfaces: DataInterface[] = board.interfaces.map((iface) => ({
      interface: iface.name,
      address: iface.address,
      ...(iface.network === 'lan' && defaultRoute ? { gateway: defaultRoute.via } : {}),
      ...(iface.network === 'wan' ? { routes: routes.filter((r) => r.to !== 'default') } : {}),
    }));
    const nics = [MGMT_BRIDGE, ...board.interfaces.map((i) => (i.network === 'wan' ? WAN_BRIDGE : lanBridge.get(board.site)!))].map((bridge, n) => ({ tap: `b${index}n${n}`, mac: vmMac(index, n), bridge }));
    const arch = board.arch ?? 'amd64';
    return {
      name: board.name,
      site: board.site,
      roles: board.roles,
      arch,
      memoryMiB: VM_MEMORY_MIB,
      mgmtAddress: mgmt.boards[index],
      nics,
      firstBoot: {
        hostname: board.name,
        user: 'synrace',
        management: { interface: VM_MGMT_NIC, address: `${mgmt.boards[index]}/${mgmt.length}` },
        dataInterfaces,
        forwarding: isRouter(board),
        rootLogin: true,
      },
    };
  });
  return {
    netns: names.vmNetns,
    hostLink: names.mgmtBridge,
    mgmtSubnet,
    mgmtHostAddress: mgmt.host,
    mgmtPrefixLength: mgmt.length,
    bridges: [MGMT_BRIDGE, ...lanBridge.values(), WAN_BRIDGE],
    boards,
  };
}
