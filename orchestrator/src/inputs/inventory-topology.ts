import { addressOf, type Inventory, type InventoryBoard, type Topology } from '@synrace/netem-profiles';

/** The physical board that plays each topology board; every topology board needs one to bring a lab up. */
export function boardsOnShelf(inventory: Inventory, topology: Topology): Map<string, InventoryBoard> {
  const missing = topology.boards.filter((b) => !inventory.boards.some((i) => i.plays === b.name)).map((b) => b.name);
  if (missing.length) {
    throw new Error(`inventory ${inventory.name} (${inventory.source}) has no physical board for ${missing.join(', ')}: every board of topology ${topology.name} must be played by one`);
  }
  return new Map(inventory.boards.map((i) => [i.plays, i]));
}

/**
 * The topology as the boards see it: each interface under the NIC name the board really has (a Pi's
 * USB adapter is eth1, not the topology's lan0), so agent configs, tc trees and captures name real NICs.
 */
export function withBoardInterfaceNames(topology: Topology, inventory: Inventory): Topology {
  const played = new Map(inventory.boards.map((i) => [i.plays, i.interfaces]));
  return {
    ...topology,
    boards: topology.boards.map((b) => ({ ...b, interfaces: b.interfaces.map((i) => ({ ...i, name: played.get(b.name)?.[i.name] ?? i.name })) })),
  };
}

/** The address agents serve their control API on: the management address written at flashing, else the SSH address. */
export function managementAddress(board: InventoryBoard): string {
  const address = board.management ? addressOf(board.management.address) : board.ssh.host;
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) {
    throw new Error(`board ${board.name}: ssh.host "${address}" is a name; give management.address (the board's IPv4 management address), which the agents' control API binds to`);
  }
  return address;
}
