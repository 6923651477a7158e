import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { compileTcTree, loadInventory, loadProfile, loadTopology, renderTcScript, shippedProfilePath, shippedTopologyPath, type Inventory } from '@synrace/netem-profiles';
import { boardsOnShelf, managementAddress, withBoardInterfaceNames } from '../src/hardware-lab/shelf-topology';
import { agentConfigFor } from '../src/provision/agent-config';
import { AGENT_UNIT, WEB_UNIT, renderAgentUnit, renderWebUnit } from '../src/provision/systemd-units';

const netemProfilesDir = dirname(require.resolve('@synrace/netem-profiles/package.json'));
const exampleInventory = join(netemProfilesDir, 'inventories', 'example-world.yaml');
const world = loadTopology(shippedTopologyPath('world'));

/** The example shelf, completed so that every board of the world topology has a physical board. */
function fullShelf(dir: string): Inventory {
  const example = loadInventory(exampleInventory, world);
  const boards = world.boards.map((b, i) => {
    const known = example.boards.find((x) => x.plays === b.name);
    const interfaces = known ? `, interfaces: ${JSON.stringify(known.interfaces)}` : '';
    return `  - { name: pi-${i + 10}, plays: ${b.name}, serial: { path: /dev/serial/by-id/adapter-${i} }, relay: { bcmPin: ${i + 2} }, ssh: { host: 192.168.50.${i + 10}, hostKey: "${example.boards[0].ssh.hostKey}" }${interfaces} }`;
  });
  const file = join(dir, 'shelf.yaml');
  writeFileSync(file, `name: full\ntopology: world\ndefaults:\n  ssh: { user: synrace, key: ~/.ssh/lab }\n  console: { user: synrace, password: pw }\nboards:\n${boards.join('\n')}\n`);
  return loadInventory(file, world);
}

describe('hardware lab pieces', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'synrace-hw-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a shelf that lacks a physical board for some topology board, naming them', () => {
    const partial = loadInventory(exampleInventory, world);
    assert.throws(() => boardsOnShelf(partial, world), /has no physical board for sao-host, sao-gw, .*rogue: every board of topology world must be played by one/);
    assert.equal(boardsOnShelf(fullShelf(dir), world).get('nyc-gw')?.name, 'pi-11');
  });

  it('gives the inventory console login to every board through defaults', () => {
    assert.deepEqual(fullShelf(dir).boards.map((b) => b.console?.user), world.boards.map(() => 'synrace'));
  });

  it("names each board's real NICs in its tc tree and agent config", () => {
    const shelf = withBoardInterfaceNames(world, fullShelf(dir));
    const profile = loadProfile(shippedProfilePath('world'), shelf);
    // The example puts nyc-gw's WAN on eth0 and its LAN on the USB adapter eth1.
    const golden = readFileSync(join(netemProfilesDir, 'test', 'golden', 'world-nyc-gw.netem.sh'), 'utf8');
    assert.equal(renderTcScript(compileTcTree(shelf, profile, 'nyc-gw', { netem: true })), golden.replaceAll('dev wan0', 'dev eth0'));
    const config = agentConfigFor(shelf, profile, shelf.boards.find((b) => b.name === 'nyc-gw')!, '192.168.50.11', { configuration: 'A', raceMode: 'plain', controlToken: 't' }) as { roles: Record<string, { lanInterface: string; wanInterface: string }> };
    assert.deepEqual([config.roles['client-gateway'].lanInterface, config.roles['client-gateway'].wanInterface], ['eth1', 'eth0']);
    assert.equal(shelf.boards.find((b) => b.name === 'rep-iad')!.interfaces[0].name, 'wan0', 'a board without a mapping keeps the topology name');
  });

  it('binds the control API to the management address, and refuses a host name for it', () => {
    const board = fullShelf(dir).boards[0];
    assert.equal(managementAddress(board), '192.168.50.10');
    assert.throws(() => managementAddress({ ...board, ssh: { ...board.ssh, host: 'pi-10.lab' } }), /ssh.host "pi-10.lab" is a name; give management.address/);
    assert.equal(managementAddress({ ...board, ssh: { ...board.ssh, host: 'pi-10.lab' }, management: { address: '10.0.0.9/24' } }), '10.0.0.9');
  });

  it('writes systemd units that systemd-analyze verifies without a complaint', () => {
    const nginx = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(join(dir, AGENT_UNIT), renderAgentUnit({ board: 'rep-iad', node: process.execPath, script: '/opt/synrace/agent.js', config: '/etc/synrace/agent.json' }));
    writeFileSync(join(dir, WEB_UNIT), renderWebUnit({ board: 'rep-iad', nginx, nginxConfig: '/etc/synrace/nginx.conf', nginxErrorLog: '/var/log/synrace/nginx-error.log', pidFile: '/run/synrace/nginx.pid' }));
    for (const unit of [AGENT_UNIT, WEB_UNIT]) {
      const verify = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, unit)], { encoding: 'utf8' });
      assert.equal(verify.stderr, '', `${unit}: ${verify.stderr}`);
      assert.equal(verify.status, 0);
    }
    // The same check fails a unit with a typo: it is not a check that passes anything.
    writeFileSync(join(dir, 'broken.service'), renderAgentUnit({ board: 'x', node: process.execPath, script: '/a.js', config: '/c.json' }).replace('Type=simple', 'Type=simpel'));
    assert.match(spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, 'broken.service')], { encoding: 'utf8' }).stderr, /Failed to parse service type/);
  });
});
