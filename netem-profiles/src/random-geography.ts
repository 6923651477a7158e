// Random geographies for the predictor's fidelity bench: a topology's sites placed at seeded random points
// of the globe, one-way delays from the great-circle distance at the speed of light in fibre, stretched by a
// seeded route factor per site pair and skewed a little per direction (real paths are neither straight nor
// symmetric). Pure: the same topology and seed give the same profile, so a fidelity run can be repeated.
import { renderProfileYaml, type DirectedDelay } from './lab-yaml';
import { seededRandom } from './seeded-random';
import type { Topology } from './topology';

/** Light in fibre covers about 200 km per millisecond. */
const FIBRE_KM_PER_MS = 200;
const EARTH_RADIUS_KM = 6371;
/** Routes are longer than great circles: by this factor, drawn per pair. */
const ROUTE_STRETCH = { min: 1.2, max: 1.8 };
/** Each direction of a pair gets up to this much extra one-way delay (queues, asymmetric routing). */
const MAX_ASYMMETRY_MS = 6;

export interface RandomGeography {
  /** The profile's name: random-<seed>. */
  name: string;
  /** A delay profile file for the topology (profile.schema.json), to load or apply like any other. */
  yaml: string;
  /** Where each site was put, for the report. */
  sites: { name: string; latitude: number; longitude: number }[];
}

function greatCircleKm(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

export function randomGeography(topology: Topology, seed: number): RandomGeography {
  const random = seededRandom(seed);
  const between = (min: number, max: number) => min + (max - min) * random();
  // Uniform on the sphere: latitude from the arcsine of a uniform draw, not a uniform draw itself.
  const sites = topology.sites.map((s) => ({ name: s.name, latitude: (Math.asin(between(-1, 1)) * 180) / Math.PI, longitude: between(-180, 180) }));
  const paths: DirectedDelay[] = [];
  sites.forEach((a, i) => {
    for (const b of sites.slice(i + 1)) {
      const base = (greatCircleKm(a, b) / FIBRE_KM_PER_MS) * between(ROUTE_STRETCH.min, ROUTE_STRETCH.max);
      for (const [from, to] of [[a, b], [b, a]]) {
        const delayMs = Math.max(1, Math.round(base + between(0, MAX_ASYMMETRY_MS)));
        paths.push({ from: from.name, to: to.name, delayMs });
      }
    }
  });
  const name = `random-${seed}`;
  const yaml = renderProfileYaml({
    name,
    topology: topology.name,
    comment: `A random geography for the ${topology.name} topology (seed ${seed}), made by netem-profiles' randomGeography.`,
    description: 'Sites at seeded random points of the globe; fibre delays over stretched, slightly asymmetric routes.',
    paths,
  });
  return { name, yaml, sites };
}
