import { strict as assert } from 'node:assert';
import { boardsAt, boardsWithRole, loadProfile, loadTopology, oneWayDelay, predict, randomLab, type DelayProfile, type Topology } from '../src/index';
import { writeTemp } from './helpers';

const SEEDS = Array.from({ length: 30 }, (_, i) => i + 1);

const loaded = new Map<number, { topology: Topology; profile: DelayProfile }>();
/** Each seed's files loaded once: schema validation of 30 labs takes seconds on a busy host. */
function load(seed: number): { topology: Topology; profile: DelayProfile } {
  if (!loaded.has(seed)) {
    const lab = randomLab(seed);
    const topology = loadTopology(writeTemp(`random-lab-${seed}.topology.yaml`, lab.topologyYaml));
    loaded.set(seed, { topology, profile: loadProfile(writeTemp(`random-lab-${seed}.profile.yaml`, lab.profileYaml), topology) });
  }
  return loaded.get(seed)!;
}

/** Directed triples a -> b -> c whose detour is shorter than the direct path a -> c. */
function triangleViolations(topology: Topology, profile: DelayProfile): number {
  const sites = topology.sites.map((s) => s.name);
  const d = (a: string, b: string) => oneWayDelay(profile, a, b);
  return sites.flatMap((a) => sites.flatMap((b) => sites.filter((c) => a !== b && b !== c && a !== c && d(a, b) + d(b, c) < d(a, c)))).length;
}

describe('randomLab', function () {
  this.timeout(30_000);

  it('replays: the same seed gives the same files, another seed others', () => {
    assert.deepEqual(randomLab(11), randomLab(11));
    assert.notEqual(randomLab(11).topologyYaml + randomLab(11).profileYaml, randomLab(12).topologyYaml + randomLab(12).profileYaml);
  });

  it('keeps a printed seed replayable across versions: seed 1201 is still the lab the first 20-lab run measured', () => {
    const summary = randomLab(1201).sites.map((s) => `${s.name}${s.client && s.replica ? '*' : ''}${s.satellite ? ` (${s.satellite.kind} +${s.satellite.extraMs})` : ''}`);
    assert.deepEqual(summary, ['origin', 'client1*', 'client2 (LEO +26.6)', 'client3 (LEO +24.1)', 'replica1']);
  });

  it('writes a topology and a profile that load, every directed pair once, for every seed', () => {
    for (const seed of SEEDS) {
      const { topology, profile } = load(seed);
      const n = topology.sites.length;
      assert.ok(n >= 5 && n <= 8, `seed ${seed}: ${n} sites`);
      assert.equal(profile.paths.length, n * (n - 1), `seed ${seed}`);
      assert.equal(predict(topology, profile).length, boardsWithRole(topology, 'client-gateway').length);
    }
  });

  it('gives every lab a site that is both a client site and a replica site, and other replica sites', () => {
    for (const seed of SEEDS) {
      const { topology } = load(seed);
      const roles = (site: string) => boardsAt(topology, site).flatMap((b) => b.roles);
      const both = topology.sites.filter((s) => roles(s.name).includes('client-gateway') && roles(s.name).includes('replica'));
      assert.ok(both.length >= 1, `seed ${seed}: no client site holds a replica`);
      assert.ok(boardsWithRole(topology, 'replica').some((r) => !roles(r.site).includes('client-gateway')), `seed ${seed}: no replica-only site`);
    }
  });

  it('breaks the triangle inequality in most labs', () => {
    const violating = SEEDS.filter((seed) => {
      const { topology, profile } = load(seed);
      return triangleViolations(topology, profile) > 0;
    });
    assert.ok(violating.length >= SEEDS.length / 2, `only seeds ${violating.join(', ')} break it`);
  });

  it('slows the downlink toward 1 or 2 satellite sites only: paths toward them carry the extra delay, paths away do not', () => {
    for (const seed of SEEDS) {
      const lab = randomLab(seed);
      const { profile } = load(seed);
      const satellites = lab.sites.filter((s) => s.satellite);
      assert.ok(satellites.length >= 1 && satellites.length <= 2, `seed ${seed}: ${satellites.length} satellite sites`);
      assert.ok(!lab.sites.find((s) => s.origin)!.satellite, 'the origin stays on the ground');
      for (const sat of satellites) {
        const { kind, extraMs } = sat.satellite!;
        assert.ok(kind === 'LEO' ? extraMs >= 15 && extraMs <= 35 : extraMs >= 240 && extraMs <= 280, `${kind} +${extraMs} ms`);
        for (const other of lab.sites.filter((s) => s !== sat)) {
          const toward = oneWayDelay(profile, other.name, sat.name);
          const away = oneWayDelay(profile, sat.name, other.name);
          // Both directions share a route; only the per-direction skew (< 2 ms) and the other end's own satellite remain.
          const awayExtra = other.satellite?.extraMs ?? 0;
          assert.ok(toward - (away - awayExtra) > extraMs - 2.1, `seed ${seed}: ${other.name} -> ${sat.name} ${toward} ms vs back ${away} ms`);
        }
      }
    }
  });
});
