import type { Board, BoardInterface, Role, Site, Topology } from './topology';

export function findSite(topology: Topology, name: string): Site | undefined {
  return topology.sites.find((s) => s.name === name);
}

export function findBoard(topology: Topology, name: string): Board | undefined {
  return topology.boards.find((b) => b.name === name);
}

export function interfaceOn(board: Board, network: 'lan' | 'wan'): BoardInterface | undefined {
  return board.interfaces.find((i) => i.network === network);
}

/** A router joins its site's LAN to the WAN; every site with a LAN has exactly one. */
export function isRouter(board: Board): boolean {
  return interfaceOn(board, 'lan') !== undefined && interfaceOn(board, 'wan') !== undefined;
}

export function boardsAt(topology: Topology, site: string): Board[] {
  return topology.boards.filter((b) => b.site === site);
}

export function boardsWithRole(topology: Topology, role: Role): Board[] {
  return topology.boards.filter((b) => b.roles.includes(role));
}
