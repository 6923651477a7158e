// The delay line's engine frame by frame: its learning switch and its path queues, through real ports in
// namespaces, judged by which ends a frame reaches, when, and what the agent's counters say on stop.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { openPacketSocket, type PacketSocket } from '../src/io/packet-socket';
import type { WanDelayConfig } from '../src/roles/wan-delay-config';
import { AgentRun, spawnAgent, waitForOutput } from './support/agent-process';
import { inNetns } from './support/netns';
import { createWanTopology, WanTopology } from './support/wan-topology';

const ETHERTYPE = 0x88b5;
const BROADCAST = 'ff:ff:ff:ff:ff:ff';

/** Locally administered unicast MACs of this run, so no other frame on the ports is taken for ours. */
const runTag = randomBytes(2);
const station = (n: number): string => ['02', runTag[0], runTag[1], 0, 0, n].map((b) => (typeof b === 'string' ? b : b.toString(16).padStart(2, '0'))).join(':');
const macBytes = (mac: string): Buffer => Buffer.from(mac.replace(/:/g, ''), 'hex');

interface Received {
  seq: number;
  rxNs: number;
}

describe('wan-delay engine: switch and queues, frame by frame', function () {
  this.timeout(60_000);
  let topo: WanTopology;
  let agent: AgentRun | undefined;
  let sockets: PacketSocket[] = [];
  const received = new Map<string, Received[]>();
  // a and c share site A, b and d share site B.
  const ports = [{ ifname: 'p-a', site: 'A' }, { ifname: 'p-b', site: 'B' }, { ifname: 'p-c', site: 'A' }, { ifname: 'p-d', site: 'B' }];
  const ends = ['a', 'b', 'c', 'd'];
  const quick = (): WanDelayConfig['paths'] => [
    { from: 'A', to: 'B', delayMs: 1, jitterMs: 0, lossPct: 0 },
    { from: 'B', to: 'A', delayMs: 1, jitterMs: 0, lossPct: 0 },
  ];
  let seq = 0;

  const start = async (wan: Partial<WanDelayConfig> = {}): Promise<void> => {
    agent = spawnAgent(topo.wanNs, { board: 'wan', roles: { 'wan-delay': { ports, paths: quick(), ...wan } } });
    await waitForOutput(agent, 'wan-delay ready');
  };
  const send = (from: string, src: string, dst: string): number => {
    const frame = Buffer.alloc(60);
    macBytes(dst).copy(frame, 0);
    macBytes(src).copy(frame, 6);
    frame.writeUInt16BE(ETHERTYPE, 12);
    runTag.copy(frame, 14);
    frame.writeUInt32BE(++seq, 16);
    sockets[ends.indexOf(from)].send(frame);
    return seq;
  };
  /** The ends that got frame `n`, after `ms` for it to cross. */
  const reachedBy = async (n: number, ms = 60): Promise<string[]> => {
    await sleep(ms);
    return ends.filter((e) => received.get(e)!.some((r) => r.seq === n));
  };
  const stopAndCount = async (pattern: RegExp): Promise<number[]> => {
    assert.equal(await agent!.stop(), 0);
    const m = pattern.exec(agent!.output());
    assert.ok(m, agent!.output());
    return m.slice(1).map(Number);
  };

  before(() => {
    topo = createWanTopology('eng', ends.map((name, i) => ({ name, cidr: `10.79.0.${i + 1}/24` })));
    sockets = topo.ends.map((e) => inNetns(e.ns, () => openPacketSocket(e.ifname)));
    sockets.forEach((s, i) => {
      received.set(ends[i], []);
      s.onFrame((frame, rxNs) => {
        if (frame.length >= 20 && frame.readUInt16BE(12) === ETHERTYPE && frame.subarray(14, 16).equals(runTag)) received.get(ends[i])!.push({ seq: frame.readUInt32BE(16), rxNs });
      });
    });
  });

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
  });

  after(() => {
    sockets.forEach((s) => s.close());
    topo?.destroy();
  });

  it('floods a frame for an unknown station to every other port, then sends to a station only where it was learnt', async () => {
    await start();
    assert.deepEqual(await reachedBy(send('a', station(1), station(2))), ['b', 'c', 'd']);
    assert.deepEqual(await reachedBy(send('b', station(2), station(1))), ['a']);
    assert.deepEqual(await reachedBy(send('a', station(1), station(2))), ['b']);
    assert.deepEqual(await reachedBy(send('c', station(3), BROADCAST)), ['a', 'b', 'd']);
  });

  it('leaves a frame for a station behind its own ingress port on that segment', async () => {
    await start();
    send('a', station(4), BROADCAST);
    await sleep(20);
    assert.deepEqual(await reachedBy(send('a', station(5), station(4))), []);
  });

  it('refuses a fresh station\'s MAC from another port, and lets the station move once it aged out', async () => {
    await start({ macAgeingMs: 400 });
    assert.deepEqual(await reachedBy(send('a', station(6), BROADCAST)), ['b', 'c', 'd']);
    assert.deepEqual(await reachedBy(send('c', station(6), BROADCAST)), [], 'a fresh station claimed from another port');
    await sleep(450);
    assert.deepEqual(await reachedBy(send('c', station(6), BROADCAST)), ['a', 'b', 'd'], 'the station aged out, so it may move');
    const [refused] = await stopAndCount(/wan-delay switch: stations=\d+ macMoveRefused=(\d+)/);
    assert.equal(refused, 1);
  });

  it('keeps a pinned MAC on its port for good', async () => {
    await start({ ports: ports.map((p, i) => (i === 1 ? { ...p, mac: station(7) } : p)), macAgeingMs: 100 });
    assert.deepEqual(await reachedBy(send('d', station(7), BROADCAST)), []);
    await sleep(150);
    assert.deepEqual(await reachedBy(send('d', station(7), BROADCAST)), [], 'pinned MACs do not age');
    assert.deepEqual(await reachedBy(send('b', station(7), BROADCAST)), ['a', 'c', 'd']);
  });

  it('learns at most macsPerPort stations per port: a flood of source MACs on one port leaves the other ports\' stations alone', async () => {
    await start({ macsPerPort: 8 });
    send('b', station(8), BROADCAST);
    for (let i = 0; i < 200; i++) send('a', `02:ee:${randomBytes(4).toString('hex').match(/../g)!.join(':')}`, BROADCAST);
    await sleep(100);
    assert.deepEqual(await reachedBy(send('c', station(9), station(8))), ['b'], 'the station on b is still known');
    const [stations, , evicted] = await stopAndCount(/wan-delay switch: stations=(\d+) macMoveRefused=(\d+) evicted=(\d+)/);
    assert.ok(stations <= 4 * 8, `${stations} stations`);
    assert.ok(evicted >= 200 - 8, `${evicted} evicted`);
  });

  it('makes room for a station that moved onto a full port, so every port keeps to its share', async () => {
    await start({ macsPerPort: 2, macAgeingMs: 300 });
    ends.forEach((end, i) => [20, 21].forEach((n) => send(end, station(n + 2 * i), BROADCAST)));
    await sleep(350);
    // Station 24 (learnt on c) has aged out and now shows up on a, which holds two stations already.
    assert.deepEqual(await reachedBy(send('a', station(24), BROADCAST)), ['b', 'c', 'd']);
    assert.deepEqual(await reachedBy(send('c', station(28), BROADCAST)), ['a', 'b', 'd']);
    const [stations, evicted] = await stopAndCount(/wan-delay switch: stations=(\d+) macMoveRefused=\d+ evicted=(\d+)/);
    assert.deepEqual([stations, evicted], [8, 1], 'a evicted its oldest to take the moved station; c learnt a new one in the room it left');
  });

  it('tail-drops when a path\'s queue holds its limit', async () => {
    await start({ queueLimit: 5, paths: [{ from: 'A', to: 'B', delayMs: 300, jitterMs: 0, lossPct: 0 }, { from: 'B', to: 'A', delayMs: 1, jitterMs: 0, lossPct: 0 }] });
    send('b', station(10), BROADCAST);
    send('d', station(11), BROADCAST);
    await sleep(20);
    const sent = Array.from({ length: 20 }, () => send('a', station(12), station(10)));
    await sleep(400);
    assert.equal(received.get('b')!.filter((r) => sent.includes(r.seq)).length, 5);
    const [forwarded, dropped] = await stopAndCount(/wan-delay A->B: forwarded=(\d+) droppedLoss=0 droppedQueue=(\d+)/);
    assert.deepEqual([forwarded, dropped], [5, 15]);
  });

  it('reads a port whose every path is long at its ticks, in time for its frames\' departures', async () => {
    // Three sites: a's paths are all 5 ms, so a is lazy; c is not (its path to b is short), and c's
    // broadcasts, 5 ms on their way to a, keep departures due, so the engine ticks all the while.
    const path = (from: string, to: string, delayMs: number) => ({ from, to, delayMs, jitterMs: 0, lossPct: 0 });
    await start({
      ports: [ports[0], ports[1], { ifname: 'p-c', site: 'C' }],
      paths: [path('A', 'B', 5), path('B', 'A', 5), path('A', 'C', 5), path('C', 'A', 5), path('B', 'C', 0.5), path('C', 'B', 0.5)],
    });
    await waitForOutput(agent!, 'wan-delay lazy ports: p-a\n');
    send('b', station(15), BROADCAST);
    await sleep(20);
    const sent: number[] = [];
    for (let i = 0; i < 60; i++) {
      sent.push(send('a', station(16), station(15)));
      send('c', station(17), BROADCAST);
      await sleep(1);
    }
    await sleep(50);
    assert.deepEqual(received.get('b')!.filter((r) => sent.includes(r.seq)).map((r) => r.seq), sent, 'every frame of a\'s, in the order sent');
    // Read at a tick, a frame of a's still has most of its 5 ms ahead. One left unread while c's broadcasts kept
    // the engine ticking would leave after its time, most over 1 ms late; a stall of the machine makes a few late too.
    const [late] = await stopAndCount(/wan-delay departures: lateOver1ms=(\d+) maxLateUs=(\d+)/);
    assert.ok(late <= 20, `${late} of ${2 + 3 * sent.length} departures over 1 ms late`);
  });

  it('names no port lazy when every port has a same-site neighbour', async () => {
    await start();
    await waitForOutput(agent!, 'wan-delay lazy ports: none');
  });

  it('delays by the path\'s jitter without ever reordering, and counts how punctual the departures were', async () => {
    await start({ paths: [{ from: 'A', to: 'B', delayMs: 20, jitterMs: 15, lossPct: 0 }, { from: 'B', to: 'A', delayMs: 1, jitterMs: 0, lossPct: 0 }] });
    send('b', station(13), BROADCAST);
    await sleep(20);
    const sent: { seq: number; at: bigint }[] = [];
    for (let i = 0; i < 100; i++) {
      sent.push({ seq: send('a', station(14), station(13)), at: process.hrtime.bigint() });
      await sleep(1);
    }
    await sleep(100);
    const got = received.get('b')!.filter((r) => sent.some((s) => s.seq === r.seq));
    assert.equal(got.length, 100);
    assert.deepEqual(got.map((r) => r.seq), sent.map((s) => s.seq), 'in the order sent');
    const gaps = got.slice(1).map((r, i) => (r.rxNs - got[i].rxNs) / 1e6);
    // Sent about 1 ms apart: jitter bunches some frames up behind a late one and spreads others.
    assert.ok(Math.max(...gaps) > 5, `largest gap ${Math.max(...gaps).toFixed(1)} ms`);
    const [late, maxLateUs] = await stopAndCount(/wan-delay departures: lateOver1ms=(\d+) maxLateUs=(\d+)/);
    // Only a machine that stalled the engine for longer than the path's own delay would reach this.
    assert.ok(maxLateUs < 20_000, `${late} departures over 1 ms late, the latest ${maxLateUs} us`);
  });
});
