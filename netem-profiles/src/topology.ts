/**
 * rogue: a board on the WAN that plays no part in the protocol; the security suite attacks the
 * gateways from it (forged answers, resets and tunnel packets), as a compromised host on the path would.
 */
export type Role = 'client-host' | 'client-gateway' | 'server-switch' | 'origin-server' | 'replica' | 'rogue';

export interface BoardInterface {
  name: string;
  network: 'lan' | 'wan';
  /** CIDR, e.g. 10.1.0.1/24 */
  address: string;
  /** Default route via this address; lan-only boards only. */
  gateway?: string;
}

export interface Board {
  name: string;
  site: string;
  roles: Role[];
  interfaces: BoardInterface[];
  /** The machine a VM lab emulates for this board (amd64 when absent); namespace boards are the host's. */
  arch?: 'amd64' | 'arm64';
}

export interface Site {
  name: string;
  city: string;
  /** CIDR of the site LAN, if it has one. */
  lan?: string;
}

export interface Topology {
  name: string;
  /** The file it was loaded from. */
  source: string;
  management: { subnet: string };
  wan: { subnet: string };
  sites: Site[];
  boards: Board[];
  /** How the race is run; every field has a default (raceSettings). */
  race?: Partial<RaceSettings>;
}

export interface WinnerCacheSettings {
  /** How long a race's winner is remembered, counted from that race. */
  ttlMs: number;
  maxEntries: number;
  /** Floor of the margin over the winner's smoothed RTT before a cached SYN is raced after all. */
  deadlineSlackMs: number;
}

export interface RaceSettings {
  /** Per client gateway, the switch's fan-out budget: SYNs per second, and at once. */
  fanOut: { rate: number; burst: number };
  winnerCache: WinnerCacheSettings;
  /** Bounded race: the longest the switch holds a copy. */
  holdBudgetMs: number;
  /** Client gateways hand a won connection to their kernel path, where the board's kernel has one. */
  kernelPath: boolean;
}

/**
 * fanOut: far above any lab's legitimate SYN rate, yet a bound on what a forged flood reflects.
 * winnerCache: half a minute keeps a page's burst of connections on one race; the slack covers a loaded
 * host's scheduling noise. holdBudgetMs: docs/decisions.md "Bounded race". kernelPath: docs/decisions.md
 * "Kernel path".
 */
export const DEFAULT_RACE_SETTINGS: RaceSettings = {
  fanOut: { rate: 200, burst: 400 },
  winnerCache: { ttlMs: 30_000, maxEntries: 1024, deadlineSlackMs: 20 },
  holdBudgetMs: 100,
  kernelPath: true,
};

/** The topology's race settings, defaults filled in. */
export function raceSettings(topology: Topology): RaceSettings {
  return { ...DEFAULT_RACE_SETTINGS, ...topology.race };
}
