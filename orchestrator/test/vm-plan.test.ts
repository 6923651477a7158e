import assert from 'node:assert/strict';
import { loadTopology, shippedTopologyPath } from '@synrace/netem-profiles';
import { MGMT_BRIDGE, planVmLab, WAN_BRIDGE } from '../src/backends/vm/vm-plan';
import { withVmInterfaceNames } from '../src/inputs/vm-topology';
import { LabHostNames } from '../src/labs/host-names';

describe('VM lab plan of the atlantic topology', () => {
  const topology = withVmInterfaceNames(loadTopology(shippedTopologyPath('atlantic')));
  const plan = planVmLab(topology, new LabHostNames('atlantic'), '10.247.3.0/24');
  const board = (name: string) => plan.boards.find((b) => b.name === name)!;

  it("renames every board's interfaces to the guest's NICs: eth0 is management, the topology's follow in order", () => {
    assert.deepEqual(topology.boards.find((b) => b.name === 'nyc-gw')!.interfaces.map((i) => [i.name, i.network]), [['eth1', 'lan'], ['eth2', 'wan']]);
    assert.deepEqual(board('nyc-gw').firstBoot.management, { interface: 'eth0', address: '10.247.3.11/24' });
    assert.deepEqual(board('nyc-gw').nics.map((n) => n.bridge), [MGMT_BRIDGE, 'lan0', WAN_BRIDGE]);
    assert.deepEqual(board('rep-iad').nics.map((n) => n.bridge), [MGMT_BRIDGE, WAN_BRIDGE]);
  });

  it('wires everything inside the lab namespace, with TAP names and MACs unique in it and a host uplink of the lab id', () => {
    assert.equal(plan.netns, 'synrace-atlantic._vm');
    assert.deepEqual(plan.bridges, [MGMT_BRIDGE, 'lan0', WAN_BRIDGE]);
    const nics = plan.boards.flatMap((b) => b.nics);
    assert.equal(new Set(nics.map((n) => n.tap)).size, nics.length);
    assert.equal(new Set(nics.map((n) => n.mac)).size, nics.length);
    for (const n of nics) assert.ok(n.tap.length <= 15 && /^52:54:00:/.test(n.mac), JSON.stringify(n));
    assert.ok(new LabHostNames('atlantic').ownsLink(plan.hostLink));
    assert.equal(plan.mgmtHostAddress, '10.247.3.1');
  });

  it('gives each board the first boot a Pi of its role gets: addresses, default route or site routes, forwarding on routers, root login for provisioning', () => {
    assert.deepEqual(board('nyc-host').firstBoot.dataInterfaces, [{ interface: 'eth1', address: '10.31.0.10/24', gateway: '10.31.0.1' }]);
    assert.deepEqual(board('rep-iad').firstBoot.dataInterfaces, [{ interface: 'eth1', address: '10.253.0.31/24', routes: [{ to: '10.31.0.0/24', via: '10.253.0.11' }] }]);
    assert.deepEqual(board('nyc-gw').firstBoot.dataInterfaces, [{ interface: 'eth1', address: '10.31.0.1/24' }, { interface: 'eth2', address: '10.253.0.11/24', routes: [] }]);
    assert.deepEqual(plan.boards.map((b) => [b.name, b.firstBoot.forwarding]), [['nyc-host', false], ['nyc-gw', true], ['lon-origin', false], ['rep-iad', false], ['rep-yyz', false]]);
    assert.ok(plan.boards.every((b) => b.firstBoot.rootLogin && b.firstBoot.hostname === b.name));
  });

  it("takes each board's architecture from the topology, amd64 by default, each with 512 MiB", () => {
    assert.deepEqual(plan.boards.map((b) => [b.name, b.arch, b.memoryMiB]), [['nyc-host', 'amd64', 512], ['nyc-gw', 'amd64', 512], ['lon-origin', 'amd64', 512], ['rep-iad', 'amd64', 512], ['rep-yyz', 'arm64', 512]]);
  });
});
