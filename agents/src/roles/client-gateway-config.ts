import { address, addressList, arrayAt, nonEmptyString, numberIn, objectAt, oneOf, optionalBoolean, portList } from '../config-fields';
import type { TableOptions, WinnerCacheOptions } from '../table';

export const CONFIGURATIONS = ['A', 'B', 'C'] as const;
export type Configuration = (typeof CONFIGURATIONS)[number];

export interface ClientGatewayConfig {
  /** Towards the client hosts. */
  lanInterface: string;
  /** Towards the servers and replicas. */
  wanInterface: string;
  webPorts: number[];
  configuration: Configuration;
  /** MSS the SYN is clamped to, so an encapsulated segment still fits the link MTU (protocol.md "MTU"). */
  maxMss: number;
  /** The gateway's own addresses: traffic to the gateway itself is not the race's. */
  localAddresses: number[];
  table: Partial<TableOptions>;
  /** Per origin server, the replicas the switch fans out to: the only addresses whose answers are believed. */
  candidates: { server: number; replicas: number[] }[];
  /** Absent: every connection races. */
  winnerCache?: GatewayWinnerCacheConfig;
  /** Carry won connections' established segments in the kernel (tcx classifiers) where it can. */
  kernelPath: boolean;
}

export interface GatewayWinnerCacheConfig extends WinnerCacheOptions {
  /**
   * B and C: the outer source of a cached start packet, tunnelled to its winner. The gateway's own WAN
   * address, from which replicas take start packets for this gateway's client prefixes (not the client's
   * address, from which anyone could tunnel a SYN).
   */
  tunnelSource: number;
}

/** The role's part of the board config file, as the orchestrator writes it (addresses dotted). */
export interface ClientGatewayConfigFile extends Omit<ClientGatewayConfig, 'localAddresses' | 'table' | 'candidates' | 'winnerCache' | 'kernelPath'> {
  kernelPath?: boolean;
  localAddresses: string[];
  table?: Partial<TableOptions>;
  candidates: { server: string; replicas: string[] }[];
  winnerCache?: WinnerCacheOptions & { tunnelSource: string };
}

function parseWinnerCache(raw: unknown, where: string): GatewayWinnerCacheConfig {
  const obj = objectAt(raw, where);
  return {
    ttlMs: numberIn(obj, 'ttlMs', where, 0, 86_400_000, true),
    maxEntries: numberIn(obj, 'maxEntries', where, 1, 1_000_000),
    deadlineSlackMs: numberIn(obj, 'deadlineSlackMs', where, 0, 1000),
    tunnelSource: address(obj, 'tunnelSource', where),
  };
}

export function parseClientGatewayConfig(raw: unknown, where = 'client-gateway'): ClientGatewayConfig {
  const obj = objectAt(raw, where);
  const table = obj.table === undefined ? {} : objectAt(obj.table, `${where}.table`);
  return {
    lanInterface: nonEmptyString(obj, 'lanInterface', where),
    wanInterface: nonEmptyString(obj, 'wanInterface', where),
    webPorts: portList(obj, 'webPorts', where),
    configuration: oneOf(obj, 'configuration', where, CONFIGURATIONS),
    maxMss: numberIn(obj, 'maxMss', where, 536, 65495),
    localAddresses: addressList(obj, 'localAddresses', where),
    candidates: arrayAt(obj, 'candidates', where).map((c: unknown, i) => {
      const at = `${where}.candidates[${i}]`;
      const entry = objectAt(c, at);
      return { server: address(entry, 'server', at), replicas: addressList(entry, 'replicas', at) };
    }),
    table: Object.fromEntries(Object.keys(table).map((k) => [k, numberIn(table, k, `${where}.table`, 1, Infinity)])),
    kernelPath: optionalBoolean(obj, 'kernelPath', where, false),
    ...(obj.winnerCache === undefined ? {} : { winnerCache: parseWinnerCache(obj.winnerCache, `${where}.winnerCache`) }),
  };
}
