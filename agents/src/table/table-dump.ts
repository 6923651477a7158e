// JSON-friendly picture of the table for the control API.
import { ipToString } from '../packet/address';
import type { TableCounters } from './table-counters';
import type { CarriedBy, EntryState, IdleClass, TableEntry, Via } from './table-entry';

export interface EntryDump {
  client: string;
  server: string;
  state: EntryState;
  winner: string | null;
  via: Via;
  idleClass: IdleClass;
  ageMs: number;
  idleMs: number;
  synRetransmits: number;
  finFromClient: boolean;
  finFromServer: boolean;
  path: CarriedBy;
  /** Segments the kernel path carried each way, as of its last read (the sweep's, each second). */
  kernelPackets: { toServer: number; toClient: number };
}

export interface TableDump {
  size: number;
  maxEntries: number;
  counters: TableCounters;
  entries: EntryDump[];
}

export function describeEntry(entry: TableEntry, now: number): EntryDump {
  return {
    client: `${ipToString(entry.clientIp)}:${entry.clientPort}`,
    server: `${ipToString(entry.serverIp)}:${entry.serverPort}`,
    state: entry.state,
    winner: entry.winner === null ? null : ipToString(entry.winner),
    via: entry.via,
    idleClass: entry.idleClass,
    ageMs: now - entry.createdAt,
    idleMs: now - entry.lastSeen,
    synRetransmits: entry.synRetransmits,
    finFromClient: entry.finFromClient,
    finFromServer: entry.finFromServer,
    path: entry.path,
    kernelPackets: { ...entry.kernelPackets },
  };
}
