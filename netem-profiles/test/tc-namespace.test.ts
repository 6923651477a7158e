import { strict as assert } from 'node:assert';
import { compileTcTree, loadProfile, loadTopology, shippedProfilePath, shippedTopologyPath } from '../src/index';
import { createScratchNamespace, deleteNamespace, runInNamespace } from './netns';
import { mask, parsePrefix } from '../src/ipv4';

const world = loadTopology(shippedTopologyPath('world'));
const profile = loadProfile(shippedProfilePath('world'), world);

/** `tc -s class show` text -> packets sent per class handle (this iproute2 has no JSON for htb classes). */
function packetsByClass(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of text.matchAll(/^class htb (\S+) .*\n\s*Sent \d+ bytes (\d+) pkt/gm)) counts.set(m[1], Number(m[2]));
  return counts;
}

/** `tc filter show` text -> "<hex value>/<hex mask> -> <flowid>" for each u32 key on the destination address. */
function filtersShown(text: string): string[] {
  const shown: string[] = [];
  let flowid: string | undefined;
  for (const line of text.split('\n')) {
    flowid = /flowid (\S+)/.exec(line)?.[1] ?? flowid;
    const match = /^\s*match ([0-9a-f]{8}\/[0-9a-f]{8}) at 16$/.exec(line); // offset 16: IPv4 destination
    if (match) shown.push(`${match[1]} -> ${flowid}`);
  }
  return shown.sort();
}

function asU32Key(cidr: string): string {
  const { address, length } = parsePrefix(cidr)!;
  const hex8 = (n: number) => n.toString(16).padStart(8, '0');
  return `${hex8(address)}/${hex8(mask(length))}`;
}

describe('compiled tc tree in a real namespace (htb + u32, netem: false)', function () {
  this.timeout(30_000);
  // va plays nyc-gw's wan0; its veth peer vb is in the same namespace, so no packet leaves it.
  const commands = compileTcTree(world, profile, 'nyc-gw', { device: 'va', netem: false });
  let ns: string | undefined;
  const inNs = (command: string, args: string[]) => runInNamespace(ns!, command, args);
  const classPackets = async () => packetsByClass(await inNs('tc', ['-s', 'class', 'show', 'dev', 'va']));
  /** Nobody answers, so ping fails; only the packets it sends matter. */
  const ping = (address: string) => inNs('ping', ['-c', '3', '-i', '0.2', '-W', '1', '-q', address]).catch(() => undefined);

  before(async () => {
    ns = await createScratchNamespace('srt-tc');
    await inNs('ip', ['link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb']);
    await inNs('ip', ['link', 'set', 'vb', 'up']);
    await inNs('ip', ['link', 'set', 'va', 'up']);
    await inNs('ip', ['addr', 'add', '10.255.0.11/24', 'dev', 'va']);
    // No ARP: with nobody to answer, packets would otherwise wait for a neighbour forever and never reach the qdisc.
    await inNs('ip', ['link', 'set', 'va', 'arp', 'off']);
    await inNs('ip', ['route', 'add', '10.0.0.0/8', 'dev', 'va']);
    for (const argv of commands) await inNs('tc', argv);
  });

  after(async () => {
    if (ns) await deleteNamespace(ns);
  });

  it('has the default class and one class per other site', async () => {
    const handles = [...(await classPackets()).keys()].sort();
    assert.deepEqual(handles, ['1:1', '1:10', '1:11', '1:12', '1:13', '1:14', '1:15', '1:16', '1:17']);
  });

  it('has a u32 filter for every destination prefix, to the right class', async () => {
    const expected = commands
      .filter((c) => c[0] === 'filter')
      .map((c) => `${asU32Key(c[c.indexOf('dst') + 1])} -> ${c[c.indexOf('flowid') + 1]}`)
      .sort();
    assert.equal(expected.length, 13);
    assert.deepEqual(filtersShown(await inNs('tc', ['filter', 'show', 'dev', 'va'])), expected);
  });

  for (const { what, address, classid } of [
    { what: "london's origin (site lan)", address: '10.10.0.80', classid: '1:13' },
    { what: "singapore's replica (wan /32)", address: '10.255.0.33', classid: '1:16' },
  ]) {
    it(`counts a ping to ${what} in that site's class and no other`, async () => {
      const before = await classPackets();
      await ping(address);
      const after = await classPackets();
      assert.equal(after.get(classid)! - before.get(classid)!, 3);
      for (const [handle, packets] of after) {
        if (handle !== classid && handle !== '1:1') assert.equal(packets, before.get(handle), `class ${handle} moved`);
      }
    });
  }
});
