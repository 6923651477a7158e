import assert from 'node:assert/strict';
import { loadTopology, shippedTopologyPath } from '@synrace/netem-profiles';
import { planLab } from '../src/backends/namespace/lab-plan';
import { networkCommands } from '../src/backends/namespace/boot-script';
import { LabHostNames } from '../src/labs/host-names';

describe('namespace lab plan of the world topology', () => {
  const plan = planLab(loadTopology(shippedTopologyPath('world')), new LabHostNames('world'));
  const board = (name: string) => plan.boards.find((b) => b.name === name)!;

  it('gives each board a distinct management address from .10 and keeps .1 for the host', () => {
    assert.equal(plan.mgmtHostAddress, '10.250.0.1');
    const addresses = plan.boards.map((b) => b.mgmtAddress);
    assert.equal(new Set(addresses).size, addresses.length);
    assert.equal(addresses[0], '10.250.0.10');
  });

  it('keeps host-side link names within the kernel\'s 15 characters, and names every namespace after the lab', () => {
    for (const b of plan.boards) assert.ok(b.mgmtHostLink.length <= 15, b.mgmtHostLink);
    assert.ok(plan.names.mgmtBridge.length <= 15, plan.names.mgmtBridge);
    for (const ns of [...plan.boards.map((b) => b.netns), ...plan.lans.map((l) => l.netns), plan.names.wanNetns]) assert.ok(ns.startsWith('synrace-world.'), ns);
  });

  it('takes the management subnet it is given', () => {
    const other = planLab(plan.topology, new LabHostNames('other'), '10.250.7.0/24');
    assert.equal(other.mgmtHostAddress, '10.250.7.1');
    assert.equal(other.boards[0].mgmtAddress, '10.250.7.10');
  });

  it('routes a client host through its gateway and a replica to every site LAN via that site\'s router', () => {
    assert.deepEqual(board('nyc-host').routes, [{ to: 'default', via: '10.1.0.1' }]);
    const replica = board('rep-fra').routes;
    assert.ok(replica.some((r) => r.to === '10.1.0.0/24' && r.via === '10.255.0.11'), JSON.stringify(replica));
    assert.ok(replica.some((r) => r.to === '10.10.0.0/24' && r.via === '10.255.0.20'), JSON.stringify(replica));
    assert.ok(!board('nyc-gw').routes.some((r) => r.to === '10.1.0.0/24'), 'a router needs no route to its own LAN');
  });

  it('forwards only on boards that join a LAN to the WAN', () => {
    assert.equal(board('nyc-gw').forwarding, true);
    assert.equal(board('nyc-host').forwarding, false);
    assert.equal(board('rep-sin').forwarding, false);
  });

  it('puts each site LAN on its own switch and every WAN interface on a delay-line port', () => {
    const newyork = plan.lans.find((l) => l.site === 'newyork')!;
    assert.deepEqual(newyork.ports.map((p) => p.board).sort(), ['nyc-gw', 'nyc-host']);
    assert.equal(plan.wanPorts.length, plan.boards.filter((b) => b.interfaces.some((i) => i.network === 'wan')).length);
  });

  it('renders the boot network commands from the plan', () => {
    const cmds = networkCommands(board('nyc-gw'));
    assert.ok(cmds.includes('addr replace 10.1.0.1/24 dev eth0'), cmds.join('\n'));
    assert.ok(cmds.includes('route replace 10.10.0.0/24 via 10.255.0.20'), cmds.join('\n'));
  });
});
