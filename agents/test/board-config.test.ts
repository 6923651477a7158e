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
    const wan = { ...threeSites(), queueLimit: 50, macsPerPort: 16, macAgeingMs: 1000 };
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
    rejects((c) => (c.macsPerPort = 0), /macsPerPort must be a positive integer, got 0/);
    rejects((c) => ((c as Record<string, unknown>).macAgeingMs = '300'), /macAgeingMs must be a positive integer, got "300"/);
  });
});

describe('parseBoardConfig: the hostile-WAN fields (issue #10)', () => {
  const switchRole = (): Record<string, unknown> => ({
    wanInterface: 'wan0', switchAddress: '10.255.0.20', webPorts: [80], raceMode: 'plain',
    origins: [{ address: '10.10.0.80', replicas: ['10.255.0.31'], replicatablePorts: [80] }],
    holdMs: { '10.10.0.80': 0, '10.255.0.31': 0 },
    holdBudgetMs: 100,
    gateways: ['10.255.0.11'], fanOutLimit: { rate: 200, burst: 400 },
  });
  const replicaRole = (): Record<string, unknown> => ({ ownAddress: '10.255.0.31', serverAddresses: ['10.10.0.80'], configuration: 'A', busyLoad: 50, switchAddresses: ['10.255.0.20'] });
  const parse = (roles: Record<string, unknown>): unknown => parseBoardConfig({ board: 'b', roles });
  const refuses = (roles: Record<string, unknown>, message: RegExp): void =>
    assert.throws(() => parse(roles), (err: unknown) => err instanceof ConfigError && message.test(err.message), message.source);

  it('reads the switch\'s gateways and fan-out limit and the replica\'s switches', () => {
    const parsed = parse({ 'server-switch': switchRole(), replica: replicaRole() }) as { roles: { 'server-switch': { gateways: number[]; fanOutLimit: unknown }; replica: { switchAddresses: number[] } } };
    assert.deepEqual(parsed.roles['server-switch'].gateways, [0x0aff000b]);
    assert.deepEqual(parsed.roles['server-switch'].fanOutLimit, { rate: 200, burst: 400 });
    assert.deepEqual(parsed.roles.replica.switchAddresses, [0x0aff0014]);
  });

  it('names each missing or bad field', () => {
    refuses({ 'server-switch': { ...switchRole(), gateways: undefined } }, /roles\.server-switch\.gateways must be an array of IPv4 addresses/);
    refuses({ 'server-switch': { ...switchRole(), gateways: [] } }, /roles\.server-switch\.gateways must name at least one IPv4 address/);
    refuses({ 'server-switch': { ...switchRole(), gateways: ['10.255.0'] } }, /roles\.server-switch\.gateways\.0 must be an IPv4 address/);
    refuses({ 'server-switch': { ...switchRole(), fanOutLimit: undefined } }, /roles\.server-switch\.fanOutLimit must be an object/);
    refuses({ 'server-switch': { ...switchRole(), fanOutLimit: { rate: 0, burst: 1 } } }, /roles\.server-switch\.fanOutLimit\.rate must be a number > 0/);
    refuses({ 'server-switch': { ...switchRole(), fanOutLimit: { rate: 1, burst: 0.5 } } }, /roles\.server-switch\.fanOutLimit\.burst must be a number >= 1/);
    refuses({ replica: { ...replicaRole(), switchAddresses: undefined } }, /roles\.replica\.switchAddresses must be an array/);
    refuses({ replica: { ...replicaRole(), switchAddresses: [] } }, /roles\.replica\.switchAddresses must name at least one/);
  });

  it('takes a replica\'s client gateways (issue #14) in B and C only, with their client prefixes', () => {
    const gateways = [{ address: '10.255.0.13', clients: ['10.3.0.0/24'] }];
    const parsed = parse({ replica: { ...replicaRole(), configuration: 'C', gateways } }) as { roles: { replica: { gateways: unknown } } };
    assert.deepEqual(parsed.roles.replica.gateways, [{ address: 0x0aff000d, clients: [{ network: 0x0a030000, mask: 0xffffff00 }] }]);
    refuses({ replica: { ...replicaRole(), gateways } }, /roles\.replica\.gateways is for configurations B and C/);
    refuses({ replica: { ...replicaRole(), configuration: 'B', gateways: [{ address: '10.255.0.13', clients: ['10.3.0.1/24'] }] } }, /clients\[0\] has host bits set/);
    refuses({ replica: { ...replicaRole(), configuration: 'B', gateways: [{ address: '10.255.0.13', clients: [] }] } }, /clients must be a non-empty array of IPv4 prefixes/);
  });

  it('pins an optional MAC per delay-line port, once', () => {
    const wan = threeSites() as WanDelayConfig & Record<string, unknown>;
    wan.ports[0].mac = '02:53:52:00:00:01';
    assert.equal((parseBoardConfig({ board: 'wan', roles: { 'wan-delay': wan } }) as { roles: { 'wan-delay': WanDelayConfig } }).roles['wan-delay'].ports[0].mac, '02:53:52:00:00:01');
    rejects((c) => (c.ports[1].mac = '03:00:00:00:00:01'), /ports\[1\]\.mac must be a unicast MAC address/);
    rejects((c) => { c.ports[0].mac = '02:00:00:00:00:01'; c.ports[1].mac = '02:00:00:00:00:01'; }, /ports\[1\]\.mac '02:00:00:00:00:01' is pinned to two ports/);
  });
});
