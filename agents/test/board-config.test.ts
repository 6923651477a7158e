import { strict as assert } from 'node:assert';
import { parseBoardConfig } from '../src/board-config';
import { ConfigError } from '../src/config-error';
import { WanDelayConfig } from '../src/roles/wan-delay-config';

function threeSites(): WanDelayConfig {
  const sites = ['A', 'B', 'C'];
  return {
    ports: [
      { ifname: 'p1', site: 'A' },
      { ifname: 'p2', site: 'B' },
      { ifname: 'p3', site: 'C' },
      { ifname: 'p4', site: 'C' },
    ],
    paths: sites.flatMap((from) =>
      sites.filter((to) => to !== from).map((to) => ({ from, to, delayMs: 10, jitterMs: 1, lossPct: 0 }))),
  };
}

function rejects(mutate: (c: WanDelayConfig & Record<string, unknown>) => void, message: RegExp): void {
  const wan = threeSites() as WanDelayConfig & Record<string, unknown>;
  mutate(wan);
  assert.throws(() => parseBoardConfig({ board: 'wan', roles: { 'wan-delay': wan } }),
    (err: unknown) => err instanceof ConfigError && message.test(err.message));
}

describe('parseBoardConfig', () => {
  it('accepts a full mesh of paths and keeps every field', () => {
    const wan = { ...threeSites(), queueLimit: 50 };
    wan.paths[0].rateMbit = 100;
    assert.deepEqual(parseBoardConfig({ board: 'wan', roles: { 'wan-delay': wan } }),
      { board: 'wan', roles: { 'wan-delay': wan } });
  });

  it('rejects a missing board name, empty roles and unknown roles', () => {
    assert.throws(() => parseBoardConfig({ roles: { 'wan-delay': threeSites() } }), /board must be/);
    assert.throws(() => parseBoardConfig({ board: 'x', roles: {} }), /nothing to run/);
    assert.throws(() => parseBoardConfig({ board: 'x', roles: { 'syn-race': {} } }), /unknown role 'syn-race'/);
  });

  it('names an unknown site in a path', () => {
    rejects((c) => (c.paths[1].to = 'Z'), /roles\.wan-delay\.paths\[1\]: unknown site 'Z'/);
  });

  it('names a missing site pair', () => {
    rejects((c) => c.paths.splice(5, 1), /no path from site 'C' to site 'B'/);
  });

  it('rejects duplicate paths and paths from a site to itself', () => {
    rejects((c) => c.paths.push({ ...c.paths[0] }), /second path from 'A' to 'B'/);
    rejects((c) => c.paths.push({ from: 'C', to: 'C', delayMs: 1, jitterMs: 0, lossPct: 0 }), /to itself/);
  });

  it('rejects a port listed twice', () => {
    rejects((c) => (c.ports[3].ifname = 'p1'), /ports\[3\]\.ifname 'p1' is listed twice/);
  });

  it('checks number ranges', () => {
    rejects((c) => (c.paths[0].lossPct = 150), /paths\[0\]\.lossPct must be a number >= 0 and <= 100, got 150/);
    rejects((c) => (c.paths[0].delayMs = -1), /delayMs must be a number >= 0/);
    rejects((c) => ((c.paths[0] as Record<string, unknown>).jitterMs = '2'), /jitterMs must be a number/);
    rejects((c) => (c.paths[0].rateMbit = 0), /rateMbit must be a number > 0/);
    rejects((c) => (c.queueLimit = 2.5), /queueLimit must be a positive integer/);
  });
});
