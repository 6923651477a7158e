import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import {
  listShippedProfiles,
  listShippedTopologies,
  loadProfile,
  loadTopology,
  oneWayDelay,
  predict,
  shippedProfilePath,
  shippedTopologyPath,
} from '../src/index';

/** A shipped profile names its topology; that topology must be shipped too. */
function loadShipped(profileName: string) {
  const file = shippedProfilePath(profileName);
  const topologyName = (parse(readFileSync(file, 'utf8')) as { topology: string }).topology;
  const topology = loadTopology(shippedTopologyPath(topologyName));
  return { topology, profile: loadProfile(file, topology) };
}

describe('shipped files', () => {
  it('include the world topology and the promised profiles', () => {
    assert.ok(listShippedTopologies().includes('world'));
    for (const name of ['world', 'world-satellite', 'lossy-transpacific', 'congested-uplinks']) {
      assert.ok(listShippedProfiles().includes(name), name);
    }
  });

  it('name an unknown shipped file together with the available ones', () => {
    assert.throws(() => shippedProfilePath('wrold'), /no shipped profile "wrold" \(have: .*world.*\)/);
  });

  for (const name of listShippedTopologies()) {
    it(`topology ${name} validates`, () => {
      assert.equal(loadTopology(shippedTopologyPath(name)).name, name);
    });
  }

  for (const name of listShippedProfiles()) {
    it(`profile ${name} validates against its topology`, () => {
      const { topology, profile } = loadShipped(name);
      assert.equal(profile.name, name);
      const n = topology.sites.length;
      assert.equal(profile.paths.length, n * (n - 1));
    });
  }
});

describe('the shipped world profile', () => {
  const { topology, profile } = loadShipped('world');
  const predictions = predict(topology, profile);
  const kindOf = (board: string) => predictions[0].candidates.find((c) => c.board === board)!.kind;

  it('predicts a replica winning the plain race at some client site and the origin at another', () => {
    assert.ok(predictions.some((p) => kindOf(p.winner) === 'replica'), JSON.stringify(predictions.map((p) => p.winner)));
    assert.ok(predictions.some((p) => kindOf(p.winner) === 'origin'), JSON.stringify(predictions.map((p) => p.winner)));
  });

  it('has every plain and synchronized winner at least 5 ms ahead, so jitter cannot flip it', () => {
    for (const p of predictions) {
      assert.ok(p.marginMs >= 5, `${p.clientSite}: plain margin ${p.marginMs}`);
      assert.ok(p.syncMarginMs >= 5, `${p.clientSite}: sync margin ${p.syncMarginMs}`);
    }
  });

  it('covers all four client sites', () => {
    assert.deepEqual(predictions.map((p) => p.clientSite), ['newyork', 'saopaulo', 'tokyo', 'dublin']);
  });

  it('keeps jitter small and loss at zero', () => {
    for (const path of profile.paths) {
      assert.ok(path.jitterMs <= 0.3, `${path.from} -> ${path.to} jitter ${path.jitterMs}`);
      assert.equal(path.lossPct, 0);
    }
  });

  it('has an asymmetric site whose uplinks are much longer than its downlinks', () => {
    for (const other of topology.sites.map((s) => s.name).filter((s) => s !== 'saopaulo')) {
      assert.ok(oneWayDelay(profile, 'saopaulo', other) >= oneWayDelay(profile, other, 'saopaulo') + 20, other);
    }
  });

  it('shows the asymmetric uplink: the synchronized winner is not the closest, and a note says why', () => {
    const sao = predictions.find((p) => p.clientSite === 'saopaulo')!;
    assert.notEqual(sao.syncWinner, sao.closest);
    assert.ok(sao.notes.some((n) => n.includes('asymmetric uplink')), sao.notes.join('\n'));
  });
});
