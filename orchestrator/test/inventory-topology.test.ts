import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBoardConfig } from '@synrace/agents';
import { compileTcTree, loadInventory, loadProfile, loadTopology, renderTcScript, shippedInventoryPath, shippedProfilePath, shippedTopologyPath, type Inventory } from '@synrace/netem-profiles';
import { boardsOnShelf, managementAddress, withBoardInterfaceNames } from '../src/inputs/inventory-topology';
import { agentConfigFor } from '../src/provision/agent-config';

const exampleInventory = shippedInventoryPath('example-world');
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

describe('an inventory against its topology', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'srt-hw-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a shelf that lacks a physical board for some topology board, naming them', () => {
    const partial = loadInventory(exampleInventory, world);
    assert.throws(() => boardsOnShelf(partial, world), /has no physical board for sao-host, sao-gw, .*rogue: every board of topology world must be played by one/);
    assert.equal(boardsOnShelf(fullShelf(dir), world).get('nyc-gw')?.name, 'pi-11');
  });

  it('gives the inventory console login to every board through defaults', () => {
    assert.deepEqual(fullShelf(dir).boards.map((b) => b.console?.user), world.boards.map(() => 'synrace'));
  });

  it("names each board's real NICs in its tc tree and in an agent config the agent accepts", () => {
    const shelf = withBoardInterfaceNames(world, fullShelf(dir));
    const profile = loadProfile(shippedProfilePath('world'), shelf);
    // The example puts nyc-gw's WAN on eth0 and its LAN on the USB adapter eth1.
    const asTopologyNames = renderTcScript(compileTcTree(world, profile, 'nyc-gw', { netem: true }));
    assert.match(asTopologyNames, /dev wan0 /);
    assert.equal(renderTcScript(compileTcTree(shelf, profile, 'nyc-gw', { netem: true })), asTopologyNames.replaceAll('dev wan0', 'dev eth0'));
    const file = agentConfigFor(shelf, profile, shelf.boards.find((b) => b.name === 'nyc-gw')!, { mgmtAddress: '192.168.50.11', token: 'a-board-token-of-some-length' }, { configuration: 'A', raceMode: 'plain' })!;
    const config = parseBoardConfig(JSON.parse(JSON.stringify(file)));
    assert.deepEqual([config.roles['client-gateway']!.lanInterface, config.roles['client-gateway']!.wanInterface], ['eth1', 'eth0']);
    assert.equal(shelf.boards.find((b) => b.name === 'rep-iad')!.interfaces[0].name, 'wan0', 'a board without a mapping keeps the topology name');
  });

  it('binds the control API to the management address, and refuses a host name for it', () => {
    const board = fullShelf(dir).boards[0];
    assert.equal(managementAddress(board), '192.168.50.10');
    assert.throws(() => managementAddress({ ...board, ssh: { ...board.ssh, host: 'pi-10.lab' } }), /ssh.host "pi-10.lab" is a name; give management.address/);
    assert.equal(managementAddress({ ...board, ssh: { ...board.ssh, host: 'pi-10.lab' }, management: { address: '10.0.0.9/24' } }), '10.0.0.9');
  });
});
