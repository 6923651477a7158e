import { readFileSync } from 'node:fs';
import { strict as assert } from 'node:assert';
import { ConfigError, loadTopology, shippedTopologyPath } from '../src/index';
import { assertConfigError, edit, fixturePath, lineOf, readFixture, writeTemp } from './helpers';

const mini = readFixture('mini.topology.yaml');

/** Loads `mini` with one edit and expects a ConfigError at the line of `lineAnchor` (in the edited text). */
function expectError(from: string, to: string, lineAnchor: string, field: string, problem: RegExp, which: 'first' | 'last' = 'first'): void {
  const text = edit(mini, from, to);
  const file = writeTemp('bad.yaml', text);
  assertConfigError(() => loadTopology(file), { file, line: lineOf(text, lineAnchor, which), field, problem });
}

describe('loadTopology', () => {
  it('loads the shipped world topology with the documented addresses', () => {
    const file = shippedTopologyPath('world');
    const world = loadTopology(file);
    assert.equal(world.source, file);
    assert.deepEqual(world.management, { subnet: '10.250.0.0/24' });
    assert.deepEqual(world.wan, { subnet: '10.255.0.0/24' });
    assert.deepEqual(world.sites.find((s) => s.name === 'newyork'), { name: 'newyork', city: 'New York', lan: '10.1.0.0/24' });
    assert.equal(world.sites.find((s) => s.name === 'ashburn')!.lan, undefined);
    assert.deepEqual(world.boards.find((b) => b.name === 'nyc-gw'), {
      name: 'nyc-gw',
      site: 'newyork',
      roles: ['client-gateway'],
      interfaces: [
        { name: 'eth0', network: 'lan', address: '10.1.0.1/24' },
        { name: 'wan0', network: 'wan', address: '10.255.0.11/24' },
      ],
    });
    const wan = (board: string) => world.boards.find((b) => b.name === board)!.interfaces.find((i) => i.network === 'wan')!.address;
    assert.deepEqual(
      ['sao-gw', 'tyo-gw', 'lon-switch', 'rep-iad', 'rep-fra', 'rep-sin'].map(wan),
      ['10.255.0.12/24', '10.255.0.13/24', '10.255.0.20/24', '10.255.0.31/24', '10.255.0.32/24', '10.255.0.33/24'],
    );
    assert.deepEqual(world.boards.find((b) => b.name === 'lon-origin')!.interfaces, [
      { name: 'eth0', network: 'lan', address: '10.10.0.80/24', gateway: '10.10.0.1' },
    ]);
  });

  it('accepts several roles on one board', () => {
    const text = edit(edit(mini, 'roles: [server-switch]', 'roles: [server-switch, origin-server]'), 'roles: [origin-server]', 'roles: [replica]');
    const topology = loadTopology(writeTemp('multi.yaml', text));
    assert.deepEqual(topology.boards.find((b) => b.name === 'hub-switch')!.roles, ['server-switch', 'origin-server']);
  });

  describe('reports file:line: field for', () => {
    it('an unknown site in the shipped world file, in the documented format', () => {
      const text = edit(readFileSync(shippedTopologyPath('world'), 'utf8'), 'site: london\n    roles: [server-switch]', 'site: lndon\n    roles: [server-switch]');
      const file = writeTemp('world.yaml', text);
      assert.throws(() => loadTopology(file), {
        message: `${file}:${lineOf(text, 'site: lndon')}: boards[8].site: unknown site "lndon" (sites: newyork, saopaulo, tokyo, dublin, london, ashburn, frankfurt, singapore, miami)`,
      });
    });

    it('a YAML error (duplicate key)', () => {
      const text = edit(mini, '    city: East\n', '    city: East\n    city: Eest\n');
      const file = writeTemp('syntax.yaml', text);
      assertConfigError(() => loadTopology(file), { file, line: lineOf(text, 'city: Eest'), field: '', problem: /Map keys must be unique/ });
    });

    it('a YAML syntax error, at or just after the broken line', () => {
      const text = edit(mini, '    city: East\n', '    city: [East\n');
      const file = writeTemp('syntax.yaml', text);
      const broken = lineOf(text, 'city: [East');
      assert.throws(() => loadTopology(file), (e: ConfigError) => {
        // An unclosed flow sequence is only provably broken where the next line starts.
        assert.ok(e.line === broken || e.line === broken + 1, e.message);
        assert.ok(e.message.startsWith(`${file}:${e.line}: `), e.message);
        return true;
      });
    });

    it('a missing file', () => {
      assert.throws(() => loadTopology(fixturePath('no-such.yaml')), /no-such\.yaml: cannot read/);
    });

    it('an unknown field (schema)', () => {
      expectError('        address: 10.255.0.31/24', '        adress: 10.255.0.31/24', 'adress:', 'boards[4].interfaces[0].adress', /unknown field \(allowed: name, network, address, gateway\)/);
    });

    it('a missing required field (reported at its parent)', () => {
      expectError('    city: West\n', '', '- name: west', 'sites[3].city', /missing required field/);
    });

    it('an unknown role', () => {
      expectError('roles: [replica]\n    interfaces:\n      - name: wan0\n        network: wan\n        address: 10.255.0.32/24', 'roles: [replicant]\n    interfaces:\n      - name: wan0\n        network: wan\n        address: 10.255.0.32/24', 'replicant', 'boards[5].roles[0]', /must be one of: client-host, client-gateway, server-switch, origin-server, replica/);
    });

    it('a winner cache TTL that is not positive, and one missing its slack', () => {
      const race = '\nrace:\n  winnerCache: { ttlMs: 0, maxEntries: 8, deadlineSlackMs: 20 }\n';
      const text = mini + race;
      const file = writeTemp('cache-ttl.yaml', text);
      assertConfigError(() => loadTopology(file), { file, line: lineOf(text, 'winnerCache'), field: 'race.winnerCache.ttlMs', problem: /> 0|greater than 0|exclusiveMinimum|must be/ });
      const slackless = mini + '\nrace:\n  winnerCache: { ttlMs: 5000, maxEntries: 8 }\n';
      const other = writeTemp('cache-slack.yaml', slackless);
      assertConfigError(() => loadTopology(other), { file: other, line: lineOf(slackless, 'winnerCache'), field: 'race.winnerCache.deadlineSlackMs', problem: /missing required field/ });
    });

    it('a negative hold budget', () => {
      const text = mini + '\nrace:\n  holdBudgetMs: -5\n';
      const file = writeTemp('budget.yaml', text);
      assertConfigError(() => loadTopology(file), { file, line: lineOf(text, 'holdBudgetMs'), field: 'race.holdBudgetMs', problem: /must be/ });
    });

    it('a malformed CIDR', () => {
      expectError('lan: 10.1.0.0/24', 'lan: 10.1.0/24', 'lan: 10.1.0/24', 'sites[0].lan', /must be an IPv4 address with prefix length/);
    });

    it('an octet out of range', () => {
      expectError('lan: 10.10.0.0/24', 'lan: 10.310.0.0/24', 'lan: 10.310', 'sites[1].lan', /not a valid IPv4 prefix/);
    });

    it('a subnet with host bits set', () => {
      expectError('lan: 10.1.0.0/24', 'lan: 10.1.0.5/24', 'lan: 10.1.0.5', 'sites[0].lan', /host bits set \(did you mean 10\.1\.0\.0\/24\?\)/);
    });

    it('overlapping subnets', () => {
      expectError('lan: 10.10.0.0/24', 'lan: 10.1.0.0/16', 'lan: 10.1.0.0/16', 'sites[1].lan', /10\.1\.0\.0\/16 overlaps the lan of site "home"/);
    });

    it('a duplicate site name', () => {
      expectError('  - name: west\n    city: West', '  - name: east\n    city: West', '- name: east\n    city: West', 'sites[3].name', /duplicate site name "east"/);
    });

    it('a board name that cannot be a hostname', () => {
      expectError('- name: rep-west', '- name: Rep_West', 'Rep_West', 'boards[5].name', /must match .* \(it becomes a hostname and a namespace suffix\)/);
    });

    it('a board name too long for a namespace suffix', () => {
      expectError('- name: rep-west', '- name: rep-west-replica-1', 'rep-west-replica-1', 'boards[5].name', /must match/);
    });

    it('a duplicate board name', () => {
      expectError('- name: rep-west', '- name: rep-east', 'rep-east', 'boards[5].name', /duplicate board name "rep-east"/, 'last');
    });

    it('an unknown site', () => {
      expectError('site: west', 'site: wset', 'site: wset', 'boards[5].site', /unknown site "wset" \(sites: home, hub, east, west\)/);
    });

    it('an address outside the site lan', () => {
      expectError('address: 10.1.0.10/24', 'address: 10.9.0.10/24', '10.9.0.10', 'boards[0].interfaces[0].address', /10\.9\.0\.10\/24 is not inside the lan of site "home" 10\.1\.0\.0\/24/);
    });

    it('an address with the wrong prefix length', () => {
      expectError('address: 10.1.0.10/24', 'address: 10.1.0.10/16', '10.1.0.10/16', 'boards[0].interfaces[0].address', /not inside the lan/);
    });

    it('a wan address outside the wan subnet', () => {
      expectError('address: 10.255.0.32/24', 'address: 10.254.0.32/24', '10.254.0.32', 'boards[5].interfaces[0].address', /not inside the wan subnet 10\.255\.0\.0\/24/);
    });

    it('a lan interface on a site without a lan', () => {
      expectError('network: wan\n        address: 10.255.0.32/24', 'network: lan\n        address: 10.255.0.32/24', 'network: lan\n        address: 10.255.0.32', 'boards[5].interfaces[0].network', /site "west" has no lan/);
    });

    it('a duplicate address', () => {
      expectError('address: 10.255.0.32/24', 'address: 10.255.0.31/24', 'address: 10.255.0.31/24', 'boards[5].interfaces[0].address', /10\.255\.0\.31 is already used by rep-east wan0/, 'last');
    });

    it('a lan-only board without a gateway', () => {
      expectError('        address: 10.1.0.10/24\n        gateway: 10.1.0.1\n', '        address: 10.1.0.10/24\n', '- name: eth0\n        network: lan\n        address: 10.1.0.10/24', 'boards[0].interfaces[0]', /lan-only board needs a gateway/);
    });

    it('a gateway that is not the router', () => {
      expectError('gateway: 10.1.0.1', 'gateway: 10.1.0.2', 'gateway: 10.1.0.2', 'boards[0].interfaces[0].gateway', /must be 10\.1\.0\.1, the lan address of router "home-gw"/);
    });

    it('a gateway on a board with a wan interface', () => {
      expectError('        address: 10.1.0.1/24\n', '        address: 10.1.0.1/24\n        gateway: 10.1.0.1\n', 'gateway: 10.1.0.1\n', 'boards[1].interfaces[0].gateway', /only lan-only boards take a gateway/, 'last');
    });

    it('a site lan with two routers', () => {
      const text = edit(mini, '        gateway: 10.10.0.1\n', '      - name: wan0\n        network: wan\n        address: 10.255.0.21/24\n');
      const file = writeTemp('two-routers.yaml', text);
      assertConfigError(() => loadTopology(file), { file, line: lineOf(text, '- name: hub\n'), field: 'sites[1]', problem: /needs exactly one router board .* found hub-switch, hub-origin/ });
    });

    it('two server-switches', () => {
      expectError('roles: [origin-server]', 'roles: [origin-server, server-switch]', 'boards:', 'boards', /exactly one board must have role server-switch; found hub-switch, hub-origin/);
    });

    it('no origin-server', () => {
      expectError('roles: [origin-server]', 'roles: [replica]', 'boards:', 'boards', /exactly one board must have role origin-server; found none/);
    });

    it('an origin away from the server switch', () => {
      const text = edit(edit(mini, 'roles: [origin-server]', 'roles: [replica]'), 'roles: [replica]\n    interfaces:\n      - name: wan0\n        network: wan\n        address: 10.255.0.32/24', 'roles: [replica, origin-server]\n    interfaces:\n      - name: wan0\n        network: wan\n        address: 10.255.0.32/24');
      const file = writeTemp('origin-away.yaml', text);
      assertConfigError(() => loadTopology(file), { file, line: lineOf(text, 'roles: [replica, origin-server]'), field: 'boards[5].roles', problem: /must be on the site of server-switch "hub-switch" \(hub\)/ });
    });

    it('a client-host on a site without a client-gateway', () => {
      expectError('roles: [client-gateway]', 'roles: [replica]', 'roles: [client-host]', 'boards[0].roles', /client-host "home-host" is on site "home", which has no client-gateway/);
    });
  });
});
