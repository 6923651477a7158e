import { ConfigError } from '../config-error';
import { address, addressList, nonEmptyAddressList, nonEmptyString, numberIn, objectAt, oneOf, optionalBoolean, portList } from '../config-fields';
import { ipToString } from '../packet';
import { RACE_MODES, type RaceMode } from '../race-mode';


export interface OriginServer {
  address: number;
  replicas: number[];
  /** Ports whose content the replicas hold; SYNs to other ports of this server are never fanned out. */
  replicatablePorts: number[];
}

export interface ServerSwitchConfig {
  wanInterface: string;
  /** Outer source of the encapsulated copies. */
  switchAddress: number;
  webPorts: number[];
  origins: OriginServer[];
  raceMode: RaceMode;
  /**
   * Synchronized race: how long each candidate's copy is held, D_max - d(switch -> candidate),
   * so that every candidate receives its copy at the same moment.
   */
  holdMs: Map<number, number>;
  /**
   * Bounded race: no copy is held longer than this. Every synchronized hold is shortened by
   * max(0, D_max - budget); D_max is the longest hold, the origin's, which sits at the switch.
   */
  holdBudgetMs: number;
  /**
   * The client gateways' addresses on the switch's WAN link: a tag counts only on a SYN whose frame came
   * from one of them (its link-layer source is the MAC the neighbour table holds for the address).
   */
  gateways: number[];
  /** Per gateway, a token bucket of fanned-out SYNs: `rate` per second, at most `burst` at once. */
  fanOutLimit: { rate: number; burst: number };
  /** The plain race's fan-out in a tcx classifier (kernel-path/switch-programs.ts), where the kernel can. */
  kernelPath: boolean;
}

/** The role's part of the board config file, as the orchestrator writes it (addresses dotted). */
export interface ServerSwitchConfigFile extends Omit<ServerSwitchConfig, 'switchAddress' | 'origins' | 'holdMs' | 'gateways' | 'kernelPath'> {
  kernelPath?: boolean;
  switchAddress: string;
  gateways: string[];
  origins: { address: string; replicas: string[]; replicatablePorts: number[] }[];
  /** Candidate address -> hold in ms. */
  holdMs: Record<string, number>;
}

/** Synchronized holds by dotted candidate address; every candidate of every origin must have one. */
export function parseHolds(raw: unknown, origins: OriginServer[], where: string): Map<number, number> {
  const holds = objectAt(raw, where);
  const holdMs = new Map(Object.keys(holds).map((ip) => [address({ ip }, 'ip', `${where} key`), numberIn(holds, ip, where, 0, 10_000)]));
  for (const o of origins) {
    for (const candidate of [o.address, ...o.replicas]) {
      if (!holdMs.has(candidate)) throw new ConfigError(`${where} has no hold for candidate ${ipToString(candidate)}`);
    }
  }
  return holdMs;
}

export function parseServerSwitchConfig(raw: unknown, where = 'server-switch'): ServerSwitchConfig {
  const obj = objectAt(raw, where);
  if (!Array.isArray(obj.origins) || obj.origins.length === 0) throw new ConfigError(`${where}.origins must be a non-empty array`);
  const origins = obj.origins.map((o: unknown, i) => {
    const at = `${where}.origins[${i}]`;
    const origin = objectAt(o, at);
    return { address: address(origin, 'address', at), replicas: addressList(origin, 'replicas', at), replicatablePorts: portList(origin, 'replicatablePorts', at) };
  });
  const holdMs = parseHolds(obj.holdMs ?? {}, origins, `${where}.holdMs`);
  const raceMode = oneOf(obj, 'raceMode', where, RACE_MODES);
  const limit = objectAt(obj.fanOutLimit, `${where}.fanOutLimit`);
  return {
    wanInterface: nonEmptyString(obj, 'wanInterface', where),
    switchAddress: address(obj, 'switchAddress', where),
    webPorts: portList(obj, 'webPorts', where),
    origins,
    raceMode,
    holdMs,
    holdBudgetMs: numberIn(obj, 'holdBudgetMs', where, 0, 10_000),
    gateways: nonEmptyAddressList(obj, 'gateways', where),
    fanOutLimit: { rate: numberIn(limit, 'rate', `${where}.fanOutLimit`, 0, 1e6, true), burst: numberIn(limit, 'burst', `${where}.fanOutLimit`, 1, 1e6) },
    kernelPath: optionalBoolean(obj, 'kernelPath', where, false),
  };
}
