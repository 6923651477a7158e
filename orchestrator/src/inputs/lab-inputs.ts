import { existsSync } from 'node:fs';
import { loadInventory, loadProfile, loadTopology, shippedProfilePath, shippedTopologyPath, type DelayProfile, type Inventory, type InventoryBoard, type Topology } from '@synrace/netem-profiles';
import type { BackendKind } from '../labs/lab-state';
import { boardsOnShelf, managementAddress, withBoardInterfaceNames } from './inventory-topology';
import { withVmInterfaceNames } from './vm-topology';

export const DEFAULT_TOPOLOGY = 'world';
export const DEFAULT_PROFILE = 'world';
/** Five QEMU boards fit a 2-core host under TCG; the world lab's fifteen do not. */
export const DEFAULT_VM_LAB = 'atlantic';

/** A name of a shipped lab, or a path to a topology file. */
export function resolveTopology(nameOrPath: string): string {
  return existsSync(nameOrPath) ? nameOrPath : shippedTopologyPath(nameOrPath);
}

/** A name of a shipped profile, or a path to a profile file. */
export function resolveProfile(nameOrPath: string): string {
  return existsSync(nameOrPath) ? nameOrPath : shippedProfilePath(nameOrPath);
}

/**
 * What a lab is made from, loaded and checked once: the topology (as the boards see it: with each
 * physical board's own NIC names), the delay profile and, for physical boards, the inventory.
 */
export interface LabInputs {
  topologyFile: string;
  profileFile: string;
  inventoryFile?: string;
  topology: Topology;
  profile: DelayProfile;
  inventory?: Inventory;
  /** Physical boards: the inventory's board that plays each topology board, and its management address. */
  shelf?: Map<string, PlayingBoard>;
}

export interface PlayingBoard {
  board: InventoryBoard;
  mgmtAddress: string;
}

export interface LabInputFiles {
  /** Shipped name or file; a hardware lab defaults to the topology its inventory names. */
  topology?: string;
  profile?: string;
  inventory?: string;
  /** What the boards are: a VM board's NICs have the guest's names. */
  backend?: BackendKind;
}

/** What `up` is asked for, besides the files. */
export interface UpRequest {
  backend: BackendKind;
  inventory?: string;
  /** auto: what the boards have (kernel netem where it exists); userspace: the delay line; external: the WAN has the delays. */
  delay: 'auto' | 'userspace' | 'external';
  mgmtSubnet?: string;
}

/** What each kind of board can be asked for, refused before any file is read or anything made. */
export function checkUpRequest(r: UpRequest): void {
  if (r.backend === 'hardware') {
    if (!r.inventory) throw new Error('the hardware backend needs --inventory <file>: the boards, their relays, serial adapters and SSH keys');
    if (r.delay === 'userspace') throw new Error("--delay userspace is the namespace lab's delay line; on hardware use auto (kernel netem on the boards) or external");
    if (r.mgmtSubnet) throw new Error('--mgmt-subnet is for labs this host makes; a shelf has its management addresses in its inventory');
    return;
  }
  if (r.inventory) throw new Error('--inventory is for the hardware backend: add --backend hardware');
  if (r.backend === 'vm' && r.delay !== 'auto') throw new Error(`--delay ${r.delay}: VM boards have real kernels, whose netem makes the delays; use --delay auto`);
  if (r.delay === 'external') throw new Error(`--delay external is for hardware labs whose WAN has the delays already; ${r.backend} boards take auto or userspace`);
}

/** Reads and checks every input file; any fault is named with its file and line before anything is made. */
export function loadLabInputs(files: LabInputFiles): LabInputs {
  const inventoryOnly = files.inventory ? loadInventory(files.inventory) : undefined;
  const vm = files.backend === 'vm';
  const topologyFile = resolveTopology(files.topology ?? inventoryOnly?.topology ?? (vm ? DEFAULT_VM_LAB : DEFAULT_TOPOLOGY));
  const profileFile = resolveProfile(files.profile ?? (vm ? DEFAULT_VM_LAB : DEFAULT_PROFILE));
  const loaded = loadTopology(topologyFile);
  const topology = vm ? withVmInterfaceNames(loaded) : loaded;
  if (!files.inventory) return { topologyFile, profileFile, topology, profile: loadProfile(profileFile, topology) };
  const inventory = loadInventory(files.inventory, topology);
  const shelf = new Map([...boardsOnShelf(inventory, topology)].map(([name, board]) => [name, { board, mgmtAddress: managementAddress(board) }]));
  const played = withBoardInterfaceNames(topology, inventory);
  return { topologyFile, profileFile, inventoryFile: files.inventory, topology: played, profile: loadProfile(profileFile, played), inventory, shelf };
}
