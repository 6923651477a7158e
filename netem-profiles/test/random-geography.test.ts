import { strict as assert } from 'node:assert';
import { boardsWithRole, loadProfile, loadTopology, predict, randomGeography, shippedTopologyPath } from '../src/index';
import { writeTemp } from './helpers';

describe('randomGeography', () => {
  const world = loadTopology(shippedTopologyPath('world'));
  const load = (seed: number) => loadProfile(writeTemp(`random-${seed}.yaml`, randomGeography(world, seed).yaml), world);

  it('writes a profile that loads against its topology, every directed pair once', () => {
    const profile = load(1);
    const sites = world.sites.length;
    assert.equal(profile.name, 'random-1');
    assert.equal(profile.paths.length, sites * (sites - 1));
    assert.ok(profile.paths.every((p) => p.jitterMs === 0.2 && p.lossPct === 0));
  });

  it('gives the same geography for the same seed and another for another seed', () => {
    assert.equal(randomGeography(world, 7).yaml, randomGeography(world, 7).yaml);
    assert.notEqual(randomGeography(world, 7).yaml, randomGeography(world, 8).yaml);
  });

  it('keeps delays physical: at least 1 ms, at most half the globe at fibre speed stretched, a little asymmetric', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const profile = load(seed);
      const delay = (from: string, to: string) => profile.paths.find((p) => p.from === from && p.to === to)!.delayMs;
      for (const p of profile.paths) {
        assert.ok(p.delayMs >= 1 && p.delayMs <= Math.ceil((Math.PI * 6371 / 200) * 1.8 + 6), `${p.from} -> ${p.to}: ${p.delayMs} ms`);
        assert.ok(Math.abs(p.delayMs - delay(p.to, p.from)) <= 6, `${p.from} <-> ${p.to} asymmetric by more than 6 ms`);
      }
    }
  });

  it('makes geographies the predictor can judge: some site won by a replica, in some seeds', () => {
    const replicas = new Set(boardsWithRole(world, 'replica').map((b) => b.name));
    const replicaWins = [1, 2, 3, 4, 5, 6, 7, 8].filter((seed) => predict(world, load(seed)).some((p) => replicas.has(p.winner)));
    assert.ok(replicaWins.length >= 4, `seeds with a replica winning the plain race: ${replicaWins.join(', ')}`);
  });
});
