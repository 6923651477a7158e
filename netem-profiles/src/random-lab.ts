// Random labs for the predictor's fidelity bench: not only the delays but the topology itself is drawn from a
// seed. Sites lie on a plane; a path's one-way delay is its straight distance at fibre speed times a detour
// factor drawn per site pair, so a detour through a third site can be shorter than the direct path (the
// triangle inequality breaks, as it does on the Internet). One or two sites hang on a satellite-like link whose
// downlink is slow: every path toward that site carries the link's extra delay, paths away from it do not.
// Pure: the same seed gives the same files, so a run replays from its printed seed.
import { renderProfileYaml, renderTopologyYaml, type BoardYaml, type DirectedDelay, type SiteYaml } from './lab-yaml';
import { seededRandom } from './seeded-random';

/** The plane is a square of this side: straight paths of up to about 11,000 km, 57 ms at fibre speed. */
const PLANE_KM = 8000;
const FIBRE_KM_PER_MS = 200;
/** Every path pays for its two access networks. */
const ACCESS_MS = 1;
/** Routes are longer than straight lines, by a factor drawn per site pair (both directions share the route). */
const DETOUR = { min: 1, max: 2.2 };
/** Each direction queues differently: up to this much extra one-way delay. */
const MAX_DIRECTION_SKEW_MS = 2;
/** Extra one-way delay toward a satellite site: low-earth orbit, or geostationary (two hops to 36,000 km). */
const SATELLITE_EXTRA_MS = { LEO: { min: 15, max: 35 }, GEO: { min: 240, max: 280 } } as const;
export type SatelliteKind = keyof typeof SATELLITE_EXTRA_MS;

export interface RandomLabSite {
  name: string;
  /** Position on the plane, km. */
  x: number;
  y: number;
  client: boolean;
  replica: boolean;
  origin: boolean;
  satellite?: { kind: SatelliteKind; extraMs: number };
}

export interface RandomLab {
  seed: number;
  /** The topology's and the profile's name: random-<seed>. */
  name: string;
  topologyYaml: string;
  profileYaml: string;
  sites: RandomLabSite[];
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/**
 * 5 to 8 sites: the origin's (switch and origin server), 2 or 3 client sites (host and gateway), the first one
 * or two of them also a replica site, and replica sites for the rest.
 */
export function randomLab(seed: number): RandomLab {
  const random = seededRandom(seed);
  const between = (min: number, max: number) => min + (max - min) * random();
  const pick = (n: number) => Math.floor(random() * n);

  const siteCount = 5 + pick(4);
  const clientCount = 2 + pick(2);
  const bothCount = clientCount === 3 && random() < 0.5 ? 2 : 1;
  const names = ['origin', ...Array.from({ length: clientCount }, (_, i) => `client${i + 1}`), ...Array.from({ length: siteCount - 1 - clientCount }, (_, i) => `replica${i + 1}`)];
  const sites: RandomLabSite[] = names.map((name, i) => ({
    name,
    x: Math.round(between(0, PLANE_KM)),
    y: Math.round(between(0, PLANE_KM)),
    origin: i === 0,
    client: i >= 1 && i <= clientCount,
    replica: i > clientCount || (i >= 1 && i <= bothCount),
  }));
  // The origin's site stays on the ground: a satellite there would only slow every race alike.
  const grounded = sites.slice(1);
  for (let n = 1 + pick(2); n > 0; n--) {
    const site = grounded.splice(pick(grounded.length), 1)[0];
    const kind: SatelliteKind = random() < 0.5 ? 'LEO' : 'GEO';
    site.satellite = { kind, extraMs: round1(between(SATELLITE_EXTRA_MS[kind].min, SATELLITE_EXTRA_MS[kind].max)) };
  }

  const paths: DirectedDelay[] = [];
  sites.forEach((a, i) => {
    for (const b of sites.slice(i + 1)) {
      const routeMs = ACCESS_MS + (Math.hypot(a.x - b.x, a.y - b.y) / FIBRE_KM_PER_MS) * between(DETOUR.min, DETOUR.max);
      for (const [from, to] of [[a, b], [b, a]]) {
        paths.push({ from: from.name, to: to.name, delayMs: round1(routeMs + between(0, MAX_DIRECTION_SKEW_MS) + (to.satellite?.extraMs ?? 0)) });
      }
    }
  });

  const name = `random-${seed}`;
  return {
    seed,
    name,
    topologyYaml: renderTopologyYaml(name, `A random lab (seed ${seed}), made by netem-profiles' randomLab.`, sites.map(siteYaml), boardsOf(sites)),
    profileYaml: renderProfileYaml({
      name,
      topology: name,
      comment: `The random lab's delays (seed ${seed}), made by netem-profiles' randomLab.`,
      description: 'Planar distances over detoured routes (the triangle inequality breaks), satellite-like slow downlinks toward some sites.',
      paths,
    }),
    sites,
  };
}

function siteYaml(site: RandomLabSite, index: number): SiteYaml {
  const link = site.satellite ? `, ${site.satellite.kind} downlink +${site.satellite.extraMs} ms` : '';
  const lan = site.origin ? '10.10.0.0/24' : site.client ? `10.1.${index}.0/24` : undefined;
  return { name: site.name, city: `plane (${site.x}, ${site.y}) km${link}`, ...(lan ? { lan } : {}) };
}

function boardsOf(sites: RandomLabSite[]): BoardYaml[] {
  let wanHost = 10;
  const wan = () => `{ name: wan0, network: wan, address: 10.255.0.${wanHost++}/24 }`;
  return sites.flatMap((site, i): BoardYaml[] => {
    if (site.origin) {
      return [
        { name: 'origin-switch', site: site.name, roles: ['server-switch'], interfaces: ['{ name: eth0, network: lan, address: 10.10.0.1/24 }', wan()] },
        { name: 'origin-server', site: site.name, roles: ['origin-server'], interfaces: ['{ name: eth0, network: lan, address: 10.10.0.80/24, gateway: 10.10.0.1 }'] },
      ];
    }
    const replica: BoardYaml = { name: site.client ? `${site.name}-rep` : site.name, site: site.name, roles: ['replica'], interfaces: [wan()] };
    if (!site.client) return [replica];
    return [
      { name: `${site.name}-host`, site: site.name, roles: ['client-host'], interfaces: [`{ name: eth0, network: lan, address: 10.1.${i}.10/24, gateway: 10.1.${i}.1 }`] },
      { name: `${site.name}-gw`, site: site.name, roles: ['client-gateway'], interfaces: [`{ name: eth0, network: lan, address: 10.1.${i}.1/24 }`, wan()] },
      ...(site.replica ? [replica] : []),
    ];
  });
}
