import { addressOf, interfaceOn, isRouter, type Board, type Topology } from '@synrace/netem-profiles';
import type { LabHostNames } from '../../labs/host-names';
import { mgmtAddresses, routesFor, type Route } from '../board-addressing';

export interface DataLink { ifname: string; peerNetns: string; peerIfname: string }

export interface BoardPlan {
  name: string;
  site: string;
  roles: Board['roles'];
  index: number;
  netns: string;
  mgmtAddress: string;
  mgmtPrefixLength: number;
  mgmtHostLink: string;
  interfaces: Board['interfaces'];
  /** The board's port on the WAN delay line, when it has a wan interface. */
  wanPort?: string;
  /** Each data-plane interface is one end of a veth; the other end is a port of the site LAN switch or of the WAN. */
  dataLinks: DataLink[];
  routes: Route[];
  forwarding: boolean;
  /** Fixed MAC per data interface, so neighbours can be written down instead of resolved. */
  macs: Record<string, string>;
  /**
   * Every other WAN address with its MAC, as permanent neighbour entries: a real WAN is routed, so no ARP
   * crosses it, and an ARP through the delay line would add a round trip to the first race of each path.
   */
  wanNeighbours: { address: string; mac: string; ifname: string }[];
}

export interface LanSegmentPlan { site: string; netns: string; ports: { board: string; port: string }[] }

export interface LabPlan {
  topology: Topology;
  names: LabHostNames;
  mgmtSubnet: string;
  mgmtHostAddress: string;
  mgmtPrefixLength: number;
  boards: BoardPlan[];
  lans: LanSegmentPlan[];
  wanPorts: { ifname: string; site: string; board: string }[];
}

/** Locally administered unicast MACs (02:...), "SR" in the second and third octets, then board and interface. */
function boardMac(board: number, iface: number): string {
  return [0x02, 0x53, 0x52, (board >> 8) & 0xff, board & 0xff, iface].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** The lab's namespaces, links and addresses, worked out from the topology before anything is made. */
export function planLab(topology: Topology, names: LabHostNames, mgmtSubnet = topology.management.subnet): LabPlan {
  const mgmt = mgmtAddresses(mgmtSubnet, topology.boards.length);
  const boards: BoardPlan[] = topology.boards.map((board, index) => {
    const hasWan = interfaceOn(board, 'wan') !== undefined;
    return {
      name: board.name,
      site: board.site,
      roles: board.roles,
      index,
      netns: names.boardNetns(board.name),
      mgmtAddress: mgmt.boards[index],
      mgmtPrefixLength: mgmt.length,
      mgmtHostLink: names.mgmtHostLink(index),
      interfaces: board.interfaces,
      wanPort: hasWan ? `w${index}` : undefined,
      dataLinks: [],
      macs: Object.fromEntries(board.interfaces.map((iface, n) => [iface.name, boardMac(index, n)])),
      wanNeighbours: [],
      routes: routesFor(topology, board),
      forwarding: isRouter(board),
    };
  });
  const lans: LanSegmentPlan[] = topology.sites
    .filter((site) => site.lan)
    .map((site, i) => ({
      site: site.name,
      netns: names.lanNetns(i),
      ports: boards.filter((b) => b.site === site.name && b.interfaces.some((x) => x.network === 'lan')).map((b) => ({ board: b.name, port: `p${b.index}` })),
    }));
  const wanHosts = boards.flatMap((b) => b.interfaces.filter((i) => i.network === 'wan').map((i) => ({ board: b.name, address: addressOf(i.address), mac: b.macs[i.name] })));
  for (const b of boards) {
    const wan = interfaceOn(b, 'wan');
    if (wan) b.wanNeighbours = wanHosts.filter((h) => h.board !== b.name).map((h) => ({ address: h.address, mac: h.mac, ifname: wan.name }));
    const lan = lans.find((l) => l.site === b.site);
    b.dataLinks = b.interfaces.map((iface) =>
      iface.network === 'wan'
        ? { ifname: iface.name, peerNetns: names.wanNetns, peerIfname: b.wanPort! }
        : { ifname: iface.name, peerNetns: lan!.netns, peerIfname: lan!.ports.find((p) => p.board === b.name)!.port },
    );
  }
  const wanPorts = boards.flatMap((b) => (b.wanPort ? [{ ifname: b.wanPort, site: b.site, board: b.name }] : []));
  return { topology, names, mgmtSubnet, mgmtHostAddress: mgmt.host, mgmtPrefixLength: mgmt.length, boards, lans, wanPorts };
}
