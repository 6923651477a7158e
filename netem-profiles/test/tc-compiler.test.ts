import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  compileTcTeardown,
  compileTcTree,
  loadProfile,
  loadTopology,
  renderTcScript,
  shippedProfilePath,
  shippedTopologyPath,
} from '../src/index';
import { packageDir } from '../src/package-paths';

const world = loadTopology(shippedTopologyPath('world'));
const worldProfile = loadProfile(shippedProfilePath('world'), world);
const satellite = loadProfile(shippedProfilePath('world-satellite'), world);

/** Regenerate with: node dist/bin/netem-profiles.js tc <board> [--profile P] [--no-netem] > test/golden/<file> */
function golden(name: string): string {
  return readFileSync(join(packageDir, 'test', 'golden', name), 'utf8');
}

const filters = (cmds: string[][]) =>
  cmds.filter((c) => c[0] === 'filter').map((c) => `${c[c.indexOf('dst') + 1]} -> ${c[c.indexOf('flowid') + 1]}`);

describe('compileTcTree', () => {
  it('matches the golden script for nyc-gw on the world profile (netem)', () => {
    assert.equal(renderTcScript(compileTcTree(world, worldProfile, 'nyc-gw', { netem: true })), golden('world-nyc-gw.netem.sh'));
  });

  it('matches the golden script for lon-switch on world-satellite (htb only)', () => {
    assert.equal(renderTcScript(compileTcTree(world, satellite, 'lon-switch', { netem: false })), golden('world-satellite-lon-switch.htb.sh'));
  });

  it('classifies every prefix of every other site, and nothing of its own', () => {
    assert.deepEqual(filters(compileTcTree(world, worldProfile, 'lon-switch', { netem: false })), [
      '10.1.0.0/24 -> 1:10', '10.255.0.11/32 -> 1:10',
      '10.2.0.0/24 -> 1:11', '10.255.0.12/32 -> 1:11',
      '10.3.0.0/24 -> 1:12', '10.255.0.13/32 -> 1:12',
      '10.4.0.0/24 -> 1:13', '10.255.0.14/32 -> 1:13',
      '10.255.0.31/32 -> 1:14',
      '10.255.0.32/32 -> 1:15',
      '10.255.0.66/32 -> 1:15',
      '10.255.0.33/32 -> 1:16',
      '10.255.0.34/32 -> 1:17',
    ]);
  });

  it('puts the directed delay of the path leaving the board on each netem leaf', () => {
    const leaves = compileTcTree(world, worldProfile, 'sao-gw', { netem: true }).filter((c) => c.includes('netem'));
    assert.equal(leaves.length, 8);
    const toLondon = leaves.find((c) => c.includes('1:13'))!; // london is the 4th other site of saopaulo
    assert.deepEqual(toLondon.slice(toLondon.indexOf('delay')), ['delay', '130ms', '0.2ms', 'loss', 'random', '0%']);
    const fromLondon = compileTcTree(world, worldProfile, 'lon-switch', { netem: true }).find((c) => c.includes('netem') && c.includes('1:11'))!;
    assert.deepEqual(fromLondon.slice(fromLondon.indexOf('delay'), fromLondon.indexOf('delay') + 3), ['delay', '110ms', '0.2ms']);
  });

  it('sizes the netem queue for the bandwidth-delay product of long paths', () => {
    const toTokyo = compileTcTree(world, satellite, 'lon-switch', { netem: true }).find((c) => c.includes('netem') && c.includes('1:12'))!;
    // 50 Mbit/s * (370 + 4) ms / 12000 bits per packet
    assert.equal(toTokyo[toTokyo.indexOf('limit') + 1], String(Math.ceil((50e6 * 0.374) / 12000)));
    const short = compileTcTree(world, worldProfile, 'nyc-gw', { netem: true }).find((c) => c.includes('netem') && c.includes('1:14'))!;
    assert.equal(short[short.indexOf('limit') + 1], '1000');
  });

  it('without netem emits the same classes and filters and no netem leaf', () => {
    const withNetem = compileTcTree(world, worldProfile, 'nyc-gw', { netem: true });
    const without = compileTcTree(world, worldProfile, 'nyc-gw', { netem: false });
    assert.ok(!without.some((c) => c.includes('netem')));
    assert.deepEqual(without, withNetem.filter((c) => !c.includes('netem')));
  });

  it('shapes the device given instead of the wan interface', () => {
    const cmds = compileTcTree(world, worldProfile, 'nyc-gw', { device: 'veth7', netem: false });
    assert.ok(cmds.every((c) => c[c.indexOf('dev') + 1] === 'veth7'));
  });

  it('refuses a board without a wan interface unless told the device, and an unknown board', () => {
    assert.throws(() => compileTcTree(world, worldProfile, 'lon-origin', { netem: true }), /"lon-origin" has no wan interface/);
    assert.ok(compileTcTree(world, worldProfile, 'lon-origin', { device: 'eth0', netem: true }).length > 0);
    assert.throws(() => compileTcTree(world, worldProfile, 'nyc-gateway', { netem: true }), /no board "nyc-gateway"/);
  });
});

describe('compileTcTeardown', () => {
  it('deletes the root qdisc of the shaped device', () => {
    assert.deepEqual(compileTcTeardown(world, 'tyo-gw'), [['qdisc', 'del', 'dev', 'wan0', 'root']]);
    assert.deepEqual(compileTcTeardown(world, 'tyo-gw', { device: 'va' }), [['qdisc', 'del', 'dev', 'va', 'root']]);
  });
});

describe('renderTcScript', () => {
  it('prefixes tc, stops at the first failure, and refuses a word the shell would split', () => {
    assert.equal(renderTcScript([['qdisc', 'show'], ['filter', 'add', 'dev', 'eth0']]), '#!/bin/sh\nset -e\ntc qdisc show\ntc filter add dev eth0\n');
    assert.throws(() => renderTcScript([['filter', 'add', 'dev', "my 'dev"]]), /"my 'dev" is not a plain word/);
  });
});
