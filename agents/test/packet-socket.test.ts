import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { monotonicNs } from '../src/io/clock';
import { openPacketSocket, PacketSocket } from '../src/io/packet-socket';
import { inNetns } from './support/netns';
import { inNs, run } from './support/wan-topology';

// A name of this run's own: another run of this test on the host keeps its namespace.
const NS = `srt-dl-ps-${randomBytes(3).toString('hex')}`;
const ETHERTYPE_EXPERIMENTAL = 0x88b5;

function testFrame(payload: string): Buffer {
  const header = Buffer.from('ffffffffffff020000000001', 'hex');
  const type = Buffer.alloc(2);
  type.writeUInt16BE(ETHERTYPE_EXPERIMENTAL);
  return Buffer.concat([header, type, Buffer.from(payload.padEnd(46))]);
}

const isTestFrame = (f: Buffer): boolean => f.length >= 14 && f.readUInt16BE(12) === ETHERTYPE_EXPERIMENTAL;

describe('openPacketSocket', function () {
  this.timeout(10_000);
  const sockets: PacketSocket[] = [];

  before(() => {
    run('ip', ['netns', 'add', NS]);
    inNs(NS, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    run('ip', ['-n', NS, 'link', 'add', 'x0', 'type', 'veth', 'peer', 'name', 'x1']);
    run('ip', ['-n', NS, 'link', 'set', 'x0', 'up']);
    run('ip', ['-n', NS, 'link', 'set', 'x1', 'up']);
  });

  after(() => {
    for (const s of sockets) s.close();
    try { run('ip', ['netns', 'del', NS]); } catch { /* best effort */ }
  });

  it('carries a frame byte for byte from one interface to its peer, with the kernel receive time', async () => {
    const [tx, rx] = inNetns(NS, () => [openPacketSocket('x0'), openPacketSocket('x1')]);
    sockets.push(tx, rx);
    const ownFrames: Buffer[] = [];
    tx.onFrame((f) => { if (isTestFrame(f)) ownFrames.push(f); });
    const arrivals: ((arrival: [Buffer, number, number]) => void)[] = [];
    rx.onFrame((f, rxNs) => { if (isTestFrame(f)) arrivals.shift()?.([f, rxNs, monotonicNs()]); });
    const nextArrival = () => new Promise<[Buffer, number, number]>((resolve) => arrivals.push(resolve));
    // The kernel switches receive timestamps on lazily (a deferred static-key flip) when the first socket
    // asks for them; until then a frame gets its stamp when read. A first frame waits that out.
    const warmedUp = nextArrival();
    assert.equal(tx.send(testFrame('warm-up')), true);
    await warmedUp;
    await new Promise((r) => setTimeout(r, 20));
    const sent = testFrame('hello x1');
    const received = nextArrival();
    const sentAt = monotonicNs();
    assert.equal(tx.send(sent), true);
    // Hold the event loop for 20 ms: the receive time must still be the kernel's. Sleeping rather than
    // spinning leaves this CPU to the kernel's softirq, which would otherwise take the frame in only later.
    while (monotonicNs() - sentAt < 20e6) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    const [frame, rxNs, handledAt] = await received;
    assert.deepEqual(frame, sent);
    assert.ok(handledAt - sentAt >= 20e6);
    assert.ok(rxNs >= sentAt && rxNs - sentAt < 2e6, `kernel receive time ${rxNs - sentAt} ns after send`);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(ownFrames.length, 0, 'the sender saw its own outgoing frame');
  });

  it('is opened in the calling thread\'s namespace: the host has no x0', () => {
    assert.throws(() => openPacketSocket('x0'), /interface 'x0' not found in this network namespace/);
  });
});
