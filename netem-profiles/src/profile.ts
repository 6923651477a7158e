import { validateAgainstSchema } from './schema-validation';
import type { Topology } from './topology';
import { findSite } from './topology-queries';
import { YamlDocument, type DataPath } from './yaml-document';

/** One DIRECTED path: delays are one-way, `from` -> `to`. */
export interface PathSpec {
  from: string;
  to: string;
  delayMs: number;
  jitterMs: number;
  lossPct: number;
  rateMbit?: number;
}

export interface DelayProfile {
  name: string;
  /** The file it was loaded from. */
  source: string;
  description: string;
  /** Name of the topology it is for. */
  topology: string;
  /** Fully expanded: one per ordered pair of distinct sites, in topology site order. */
  paths: PathSpec[];
}

interface Impairments {
  jitterMs?: number;
  lossPct?: number;
  rateMbit?: number;
}

/** A path as authored: `between: [a, b]` for both directions, or `from:`/`to:` for one. */
interface AuthoredPath extends Impairments {
  between?: [string, string];
  from?: string;
  to?: string;
  delayMs: number;
}

interface AuthoredProfile {
  name: string;
  topology: string;
  description: string;
  defaults?: Impairments;
  paths: AuthoredPath[];
}

/** Parses and schema-checks a profile, then expands it against `topology`; throws ConfigError. */
export function loadProfile(file: string, topology: Topology): DelayProfile {
  const doc = YamlDocument.read(file);
  validateAgainstSchema(doc, 'profile');
  const authored = doc.data as AuthoredProfile;
  if (authored.topology !== topology.name) {
    throw doc.error(['topology'], `profile is for topology "${authored.topology}", not "${topology.name}" (${topology.source})`);
  }
  return {
    name: authored.name,
    source: file,
    description: authored.description,
    topology: authored.topology,
    paths: expandPaths(doc, authored, topology),
  };
}

const pairKey = (from: string, to: string): string => `${from} -> ${to}`;

/** Every ordered pair of distinct sites exactly once; names the pair that is missing or doubled. */
function expandPaths(doc: YamlDocument, authored: AuthoredProfile, topology: Topology): PathSpec[] {
  const byPair = new Map<string, { spec: PathSpec; index: number }>();
  authored.paths.forEach((path, index) => {
    for (const [from, to] of directionsOf(doc, topology, path, index)) {
      const key = pairKey(from, to);
      const earlier = byPair.get(key);
      if (earlier) throw doc.error(['paths', index], `${key} is already set by paths[${earlier.index}]`);
      const impairments = { ...authored.defaults, ...path };
      const spec: PathSpec = {
        from,
        to,
        delayMs: path.delayMs,
        jitterMs: impairments.jitterMs ?? 0,
        lossPct: impairments.lossPct ?? 0,
      };
      if (impairments.rateMbit !== undefined) spec.rateMbit = impairments.rateMbit;
      byPair.set(key, { spec, index });
    }
  });
  const names = topology.sites.map((s) => s.name);
  const pairs = names.flatMap((from) => names.filter((to) => to !== from).map((to) => pairKey(from, to)));
  const missing = pairs.filter((key) => !byPair.has(key));
  if (missing.length > 0) {
    const shown = missing.slice(0, 6).join(', ') + (missing.length > 6 ? ` and ${missing.length - 6} more` : '');
    throw doc.error(['paths'], `no delay for ${shown}`);
  }
  return pairs.map((key) => byPair.get(key)!.spec);
}

function directionsOf(doc: YamlDocument, topology: Topology, path: AuthoredPath, index: number): [string, string][] {
  const ends: { name: string; at: DataPath }[] = path.between
    ? path.between.map((name, k) => ({ name, at: ['paths', index, 'between', k] }))
    : [
        { name: path.from!, at: ['paths', index, 'from'] },
        { name: path.to!, at: ['paths', index, 'to'] },
      ];
  for (const { name, at } of ends) {
    if (!findSite(topology, name)) {
      throw doc.error(at, `unknown site "${name}" (sites of ${topology.name}: ${topology.sites.map((s) => s.name).join(', ')})`);
    }
  }
  const [a, b] = ends.map((e) => e.name);
  if (a === b) throw doc.error(['paths', index], `a path joins two different sites, not "${a}" to itself`);
  return path.between ? [[a, b], [b, a]] : [[a, b]];
}

export function pathBetween(profile: DelayProfile, from: string, to: string): PathSpec {
  const path = profile.paths.find((p) => p.from === from && p.to === to);
  if (!path) throw new Error(`profile "${profile.name}" has no path ${pairKey(from, to)}`);
  return path;
}

/** d(from, to) of protocol.md: the one-way delay, 0 within a site. */
export function oneWayDelay(profile: DelayProfile, from: string, to: string): number {
  return from === to ? 0 : pathBetween(profile, from, to).delayMs;
}
