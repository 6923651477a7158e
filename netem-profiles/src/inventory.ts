import { validateAgainstSchema } from './schema-validation';
import type { Topology } from './topology';
import { findBoard } from './topology-queries';
import { YamlDocument } from './yaml-document';

/** One physical board and the resources it has (labgrid's "resources"); defaults already applied. */
export interface InventoryBoard {
  name: string;
  /** The topology board it plays. */
  plays: string;
  serial: { path: string; baudRate: number };
  relay: { bcmPin: number; activeLow: boolean };
  ssh: { host: string; port: number; user: string; key: string; hostKey: string };
  sdCard?: { device: string; serial?: string };
  /** A QEMU board's SD card: the disk file flash writes instead of a card. */
  disk?: { file: string };
  /** The static management address written at flashing (CIDR). */
  management?: { address: string; gateway?: string };
  /** Topology interface name -> the board's own NIC name. */
  interfaces: Record<string, string>;
  /** A console login, for finding out why a board that booted is not reachable over SSH. */
  console?: ConsoleLogin;
}

export interface ConsoleLogin { user: string; password: string }

export interface Inventory { name: string; source: string; topology: string; boards: InventoryBoard[] }

interface RawBoard {
  name: string;
  plays: string;
  serial: { path: string; baudRate?: number };
  relay: { bcmPin: number; activeLow?: boolean };
  ssh: { host: string; port?: number; user?: string; key?: string; hostKey: string };
  sdCard?: { device: string; serial?: string };
  disk?: { file: string };
  management?: { address: string; gateway?: string };
  interfaces?: Record<string, string>;
  console?: ConsoleLogin;
}

interface RawInventory {
  name: string;
  topology: string;
  defaults?: { baudRate?: number; ssh?: { user?: string; port?: number; key?: string }; console?: ConsoleLogin };
  boards: RawBoard[];
}

const DEFAULT_BAUD = 115200;

function checkUnique(doc: YamlDocument, boards: RawBoard[], value: (b: RawBoard) => string | number | undefined, path: (i: number) => (string | number)[], what: string): void {
  const seen = new Map<string | number, number>();
  boards.forEach((b, i) => {
    const v = value(b);
    if (v === undefined) return;
    const first = seen.get(v);
    if (first !== undefined) throw doc.error(path(i), `${what} ${JSON.stringify(v)} is already used by boards[${first}] (${boards[first].name})`);
    seen.set(v, i);
  });
}

/**
 * Parses and checks an inventory; with the topology it plays, also that every physical board plays an
 * existing topology board, each at most once, and maps only interfaces that board has. Throws ConfigError.
 */
export function loadInventory(file: string, topology?: Topology): Inventory {
  const doc = YamlDocument.read(file);
  validateAgainstSchema(doc, 'inventory');
  const raw = doc.data as RawInventory;
  checkUnique(doc, raw.boards, (b) => b.name, (i) => ['boards', i, 'name'], 'board name');
  checkUnique(doc, raw.boards, (b) => b.plays, (i) => ['boards', i, 'plays'], 'topology board');
  checkUnique(doc, raw.boards, (b) => b.serial.path, (i) => ['boards', i, 'serial', 'path'], 'serial port');
  checkUnique(doc, raw.boards, (b) => b.relay.bcmPin, (i) => ['boards', i, 'relay', 'bcmPin'], 'relay pin');
  checkUnique(doc, raw.boards, (b) => b.ssh.host, (i) => ['boards', i, 'ssh', 'host'], 'SSH address');
  checkUnique(doc, raw.boards, (b) => b.sdCard?.device, (i) => ['boards', i, 'sdCard', 'device'], 'SD card device');
  checkUnique(doc, raw.boards, (b) => b.disk?.file, (i) => ['boards', i, 'disk', 'file'], 'disk file');
  raw.boards.forEach((b, i) => {
    if (b.sdCard && b.disk) throw doc.error(['boards', i, 'disk'], 'a board is flashed to an SD card or to a disk file, not both: keep sdCard (a Pi) or disk (a QEMU board)');
  });
  if (topology) {
    if (raw.topology !== topology.name) throw doc.error(['topology'], `the inventory is for topology "${raw.topology}", not "${topology.name}"`);
    raw.boards.forEach((b, i) => {
      const played = findBoard(topology, b.plays);
      if (!played) throw doc.error(['boards', i, 'plays'], `no board "${b.plays}" in topology ${topology.name} (boards: ${topology.boards.map((x) => x.name).join(', ')})`);
      for (const iface of Object.keys(b.interfaces ?? {})) {
        if (!played.interfaces.some((x) => x.name === iface)) throw doc.error(['boards', i, 'interfaces', iface], `${b.plays} has no interface "${iface}" in the topology`);
      }
    });
  }
  const defaults = raw.defaults ?? {};
  const boards = raw.boards.map((b, i): InventoryBoard => {
    const user = b.ssh.user ?? defaults.ssh?.user;
    const key = b.ssh.key ?? defaults.ssh?.key;
    if (!user) throw doc.error(['boards', i, 'ssh'], 'no SSH user: set ssh.user here or defaults.ssh.user');
    if (!key) throw doc.error(['boards', i, 'ssh'], 'no SSH key: set ssh.key here or defaults.ssh.key');
    return {
      name: b.name,
      plays: b.plays,
      serial: { path: b.serial.path, baudRate: b.serial.baudRate ?? defaults.baudRate ?? DEFAULT_BAUD },
      relay: { bcmPin: b.relay.bcmPin, activeLow: b.relay.activeLow ?? false },
      ssh: { host: b.ssh.host, port: b.ssh.port ?? defaults.ssh?.port ?? 22, user, key, hostKey: b.ssh.hostKey },
      ...(b.sdCard ? { sdCard: b.sdCard } : {}),
      ...(b.disk ? { disk: b.disk } : {}),
      ...(b.management ? { management: b.management } : {}),
      interfaces: b.interfaces ?? {},
      ...(b.console ?? defaults.console ? { console: b.console ?? defaults.console } : {}),
    };
  });
  return { name: raw.name, source: file, topology: raw.topology, boards };
}
