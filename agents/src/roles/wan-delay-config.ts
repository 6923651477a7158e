// The wan-delay role's configuration (written as JSON by the orchestrator)
// and its validation, so a bad file fails at startup with the field named.
import { ConfigError } from '../config-error';
import { isObject, nonEmptyString, numberIn } from '../config-fields';

export interface WanDelayConfig {
  /** `mac`: the board's own MAC behind the port, if known: pinned there, never learnt on another port. */
  ports: { ifname: string; site: string; mac?: string }[];
  paths: { from: string; to: string; delayMs: number; jitterMs: number; lossPct: number; rateMbit?: number }[];
  queueLimit?: number;
  /** Stations each port learns at most (least recently seen out first). */
  macsPerPort?: number;
  /** A station not seen for this long is forgotten, and may then appear on another port. */
  macAgeingMs?: number;
}

/** netem's default limit: frames per path queue before tail drop. */
export const DEFAULT_QUEUE_LIMIT = 1000;
/** A port with more stations than this behind it is not a board's. */
export const DEFAULT_MACS_PER_PORT = 1024;
/** Linux bridge's default ageing time. */
export const DEFAULT_MAC_AGEING_MS = 300_000;

/**
 * Checks `raw` against WanDelayConfig. Every ordered pair of distinct sites
 * needs exactly one path; traffic between ports of one site is never delayed,
 * so a path from a site to itself is rejected rather than silently ignored.
 */
export function parseWanDelayConfig(raw: unknown, where = 'wan-delay'): WanDelayConfig {
  if (!isObject(raw)) throw new ConfigError(`${where} must be an object`);
  if (!Array.isArray(raw.ports) || raw.ports.length === 0) throw new ConfigError(`${where}.ports must be a non-empty array`);
  if (!Array.isArray(raw.paths)) throw new ConfigError(`${where}.paths must be an array`);

  const ifnames = new Set<string>();
  const macs = new Set<string>();
  const ports = raw.ports.map((p: unknown, i) => {
    const at = `${where}.ports[${i}]`;
    if (!isObject(p)) throw new ConfigError(`${at} must be an object`);
    const ifname = nonEmptyString(p, 'ifname', at);
    if (ifnames.has(ifname)) throw new ConfigError(`${at}.ifname '${ifname}' is listed twice`);
    ifnames.add(ifname);
    const site = nonEmptyString(p, 'site', at);
    if (p.mac === undefined) return { ifname, site };
    const mac = nonEmptyString(p, 'mac', at).toLowerCase();
    if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac) || (parseInt(mac.slice(0, 2), 16) & 1) === 1) {
      throw new ConfigError(`${at}.mac must be a unicast MAC address like 02:00:00:00:00:01, got ${JSON.stringify(p.mac)}`);
    }
    if (macs.has(mac)) throw new ConfigError(`${at}.mac '${mac}' is pinned to two ports`);
    macs.add(mac);
    return { ifname, site, mac };
  });
  const sites = new Set(ports.map((p) => p.site));

  const seen = new Set<string>();
  const paths = raw.paths.map((p: unknown, i) => {
    const at = `${where}.paths[${i}]`;
    if (!isObject(p)) throw new ConfigError(`${at} must be an object`);
    const from = nonEmptyString(p, 'from', at);
    const to = nonEmptyString(p, 'to', at);
    for (const site of [from, to]) {
      if (!sites.has(site)) throw new ConfigError(`${at}: unknown site '${site}' (no port has it)`);
    }
    if (from === to) throw new ConfigError(`${at}: path from site '${from}' to itself (same-site traffic is not delayed)`);
    const key = `${from}\0${to}`;
    if (seen.has(key)) throw new ConfigError(`${at}: second path from '${from}' to '${to}'`);
    seen.add(key);
    return {
      from,
      to,
      delayMs: numberIn(p, 'delayMs', at, 0, Infinity),
      jitterMs: numberIn(p, 'jitterMs', at, 0, Infinity),
      lossPct: numberIn(p, 'lossPct', at, 0, 100),
      ...(p.rateMbit === undefined ? {} : { rateMbit: numberIn(p, 'rateMbit', at, 0, Infinity, true) }),
    };
  });

  for (const from of sites) {
    for (const to of sites) {
      if (from !== to && !seen.has(`${from}\0${to}`)) {
        throw new ConfigError(`${where}.paths: no path from site '${from}' to site '${to}'`);
      }
    }
  }

  const counts: Pick<WanDelayConfig, 'queueLimit' | 'macsPerPort' | 'macAgeingMs'> = {};
  for (const field of ['queueLimit', 'macsPerPort', 'macAgeingMs'] as const) {
    const value = raw[field];
    if (value === undefined) continue;
    if (!(Number.isInteger(value) && (value as number) > 0)) throw new ConfigError(`${where}.${field} must be a positive integer, got ${JSON.stringify(value)}`);
    counts[field] = value as number;
  }
  return { ports, paths, ...counts };
}
