import { strict as assert } from 'node:assert';
import { loadProfile, loadTopology, oneWayDelay, pathBetween } from '../src/index';
import { assertConfigError, edit, fixturePath, lineOf, readFixture, writeTemp } from './helpers';

const topology = loadTopology(fixturePath('mini.topology.yaml'));
const miniProfile = readFixture('mini.profile.yaml');

function expectError(from: string, to: string, lineAnchor: string, field: string, problem: RegExp): void {
  const text = edit(miniProfile, from, to);
  const file = writeTemp('bad-profile.yaml', text);
  assertConfigError(() => loadProfile(file, topology), { file, line: lineOf(text, lineAnchor), field, problem });
}

describe('loadProfile', () => {
  const file = fixturePath('mini.profile.yaml');
  const profile = loadProfile(file, topology);

  it('keeps the header fields', () => {
    assert.equal(profile.name, 'mini');
    assert.equal(profile.source, file);
    assert.equal(profile.topology, 'mini');
    assert.equal(profile.description, 'Small profile with one asymmetric replica.');
  });

  it('expands to one directed path per ordered pair, in topology site order', () => {
    assert.deepEqual(
      profile.paths.map((p) => `${p.from}>${p.to}`),
      ['home>hub', 'home>east', 'home>west', 'hub>home', 'hub>east', 'hub>west', 'east>home', 'east>hub', 'east>west', 'west>home', 'west>hub', 'west>east'],
    );
  });

  it('applies between to both directions and from/to to one', () => {
    assert.equal(pathBetween(profile, 'hub', 'east').delayMs, 5);
    assert.equal(pathBetween(profile, 'east', 'hub').delayMs, 5);
    assert.equal(pathBetween(profile, 'east', 'home').delayMs, 8);
    assert.equal(pathBetween(profile, 'home', 'east').delayMs, 30);
  });

  it('fills impairments from defaults, lets a path override them, and omits an unset rate', () => {
    assert.deepEqual(pathBetween(profile, 'home', 'hub'), { from: 'home', to: 'hub', delayMs: 10, jitterMs: 1, lossPct: 0 });
    assert.deepEqual(pathBetween(profile, 'home', 'east'), { from: 'home', to: 'east', delayMs: 30, jitterMs: 1, lossPct: 2 });
    assert.deepEqual(pathBetween(profile, 'west', 'home'), { from: 'west', to: 'home', delayMs: 12, jitterMs: 1, lossPct: 0, rateMbit: 100 });
    assert.equal(pathBetween(profile, 'west', 'east').jitterMs, 0);
  });

  it('oneWayDelay is directed, and 0 within a site', () => {
    assert.equal(oneWayDelay(profile, 'home', 'east'), 30);
    assert.equal(oneWayDelay(profile, 'east', 'home'), 8);
    assert.equal(oneWayDelay(profile, 'east', 'east'), 0);
    assert.throws(() => oneWayDelay(profile, 'home', 'mars'), /no path home -> mars/);
  });

  describe('reports file:line: field for', () => {
    it('a missing ordered pair, naming it', () => {
      expectError('  - from: east\n    to: home\n    delayMs: 8\n', '', 'paths:', 'paths', /no delay for east -> home$/);
    });

    it('a pair set twice, naming it and the earlier entry', () => {
      expectError('  - between: [east, west]', '  - from: west\n    to: east\n    delayMs: 3\n  - between: [east, west]', '  - between: [east, west]', 'paths[7]', /west -> east is already set by paths\[6\]/);
    });

    it('an unknown site', () => {
      expectError('between: [hub, west]', 'between: [hub, wets]', 'wets', 'paths[2].between[1]', /unknown site "wets" \(sites of mini: home, hub, east, west\)/);
    });

    it('a path from a site to itself', () => {
      expectError('between: [hub, west]', 'between: [hub, hub]', 'between: [hub, hub]', 'paths[2]', /two different sites, not "hub" to itself/);
    });

    it('a negative delay', () => {
      expectError('delayMs: 20', 'delayMs: -1', 'delayMs: -1', 'paths[2].delayMs', /must be >= 0/);
    });

    it('a loss above 100%', () => {
      expectError('lossPct: 2', 'lossPct: 101', 'lossPct: 101', 'paths[4].lossPct', /must be <= 100/);
    });

    it('between together with from', () => {
      expectError('  - between: [hub, west]\n', '  - between: [hub, west]\n    from: hub\n', 'from: hub', 'paths[2].from', /not allowed here/);
    });

    it('from without to', () => {
      expectError('    to: home\n    delayMs: 8\n', '    delayMs: 8\n', '- from: east', 'paths[3].to', /missing required field/);
    });

    it('a profile written for another topology', () => {
      expectError('topology: mini', 'topology: world', 'topology: world', 'topology', /is for topology "world", not "mini"/);
    });
  });
});
