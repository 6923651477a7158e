// Issue #16's kernel path: once the gateway's race is won, tcx classifiers carry the connection's segments,
// and the connection comes back to the agent on a FIN, a RST, idle expiry, an agent restart, or the path
// switched off. Agents in a namespace lab of their own (support/protocol-lab.ts). Needs root.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { tcxProgramCount } from '../src/io/bpf';
import { monotonicNs } from '../src/io/clock';
import { ifNameToIndex, IPPROTO_RAW } from '../src/io/libc';
import { openPacketSocket } from '../src/io/packet-socket';
import { openRawIpSocket } from '../src/io/raw-ip-socket';
import { GATEWAY_CLONES } from '../src/protocol/steering';
import {
  addTag, clampMss, computeIpv4HeaderChecksum, createIpv4View, createTcpView, parseIp, parseIpv4, parseTcp, readTag, setDst, stripTags, TcpFlag, type Ipv4View, type TagReading, type TcpView,
} from '../src/packet';
import { buildSegment } from './fixtures/packet-helpers';
import type { AgentRun } from './support/agent-process';
import { inNetns } from './support/netns';
import { connect, num, sleep, startConnecting, type Client } from './support/lab-client';
import {
  ADDR, addr, CONTROL, countersOf, createProtocolLab, gatewayConfig, replicaConfig, switchConfig, tableOf, WEB_SERVER_PY,
  type Configuration, type EntryReading, type ProtocolLab,
} from './support/protocol-lab';

interface ReplicaPathState {
  starting: boolean;
  startsAnswered: number;
  decapsulated: number;
  encapsulated: number;
  spoofed: number;
}

interface SwitchPathState {
  plain: boolean;
  copies: number;
  copyFailures: number;
}

interface KernelPathState {
  on: boolean;
  flows: number;
  closing: number;
  carried: number;
  left: Record<string, number>;
  lateResets: number;
  tagging: boolean;
  cachedStarts: boolean;
  startsTagged: number;
  startsCached: number;
  startCopyFailures: number;
  racing: number;
  racesWon: number;
  winCopyFailures: number;
}

/** A slack above this lab's scheduling noise, and a TTL no test outlasts. */
const WINNER_CACHE = { ttlMs: 60_000, maxEntries: 16, deadlineSlackMs: 50 };

describe('kernel path (issue #16): a won connection carried by tcx classifiers', function () {
  this.timeout(120_000);
  let lab: ProtocolLab;
  const agents: AgentRun[] = [];

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    lab = createProtocolLab();
    const origin = lab.daemon('origin', 'web-origin', ['python3', '-c', WEB_SERVER_PY, 'origin', '80,8080']);
    const replica = lab.daemon('replica', 'web-replica', ['python3', '-c', WEB_SERVER_PY, 'replica', '80']);
    await origin.waitFor('serving');
    await replica.waitFor('serving');
  });

  after(() => lab?.destroy());
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
  });

  async function startLab(configuration: Configuration, table: Record<string, number> = {}, fanOutLimit?: { rate: number; burst: number }, winnerCache?: typeof WINNER_CACHE): Promise<AgentRun> {
    agents.push(await lab.agent('replica', replicaConfig(configuration), 'replica ready'));
    agents.push(await lab.agent('sw', switchConfig('replica', fanOutLimit), 'server-switch ready'));
    const gateway = await lab.agent('gw', gatewayConfig(configuration, { table, ...(winnerCache ? { winnerCache } : {}) }), 'client-gateway ready');
    agents.push(gateway);
    return gateway;
  }

  const kernelPath = (): KernelPathState => countersOf(lab, 'gw', 'client-gateway').kernelPath as KernelPathState;
  const lateResets = (): number => kernelPath().lateResets;
  const entryOf = (c: Client): EntryReading | undefined => tableOf(lab, 'gw').entries.find((e) => e.client === `${ADDR.client}:${c.port}`);
  const classifiers = (): number[] => inNetns(lab.ns.gw, () => ['lan0', 'wan0'].map((i) => tcxProgramCount(ifNameToIndex(i), 'ingress')));

  /**
   * Taps `board`'s WAN for start packets to `to`, by source port, while `act` sends from the client's raw
   * socket: a packet socket's tap sees a frame before any classifier there.
   */
  async function tapStarts(board: 'sw' | 'replica', to: string, act: (send: (packet: Buffer, dst: string) => void) => Promise<void>): Promise<Map<number, Buffer>> {
    const arrived = new Map<number, Buffer>();
    const dst = parseIp(to);
    const ethHeader = 14;
    const tap = inNetns(lab.ns[board], () => openPacketSocket('wan0'));
    const sender = inNetns(lab.ns.client, () => openRawIpSocket(IPPROTO_RAW));
    try {
      tap.onFrame((frame) => {
        const packet = frame.subarray(ethHeader);
        const start = frame.readUInt16BE(12) === 0x0800 && packet[9] === 6 && packet.readUInt32BE(16) === dst && (packet[33] & 0x12) === 0x02;
        if (start && !arrived.has(packet.readUInt16BE(20))) arrived.set(packet.readUInt16BE(20), Buffer.from(packet));
      });
      await act((packet, at) => assert.equal(sender.sendTo(packet, addr(at)), true));
    } finally {
      sender.close();
      tap.close();
    }
    return arrived;
  }

  /** Sends each start packet to the origin, 150 ms apart: for each, whether the classifier's `count` grew by one. */
  async function sendEach(send: (packet: Buffer, dst: string) => void, sent: Buffer[], count: () => number): Promise<boolean[]> {
    const taken: boolean[] = [];
    for (const syn of sent) {
      const before = count();
      send(syn, ADDR.origin);
      await sleep(150);
      taken.push(count() === before + 1);
    }
    return taken;
  }
  const echo = async (c: Pick<Client, 'send' | 'line'>, from: number, count: number): Promise<void> => {
    for (let i = 0; i < count; i++) {
      c.send(`line ${i}`);
      assert.equal(await c.line(from + i), `got echo line ${i}`);
    }
  };

  for (const configuration of ['A', 'B', 'C'] as Configuration[]) {
    it(`${configuration}: the agents decide the race and see the close; classifiers carry every segment between${configuration === 'A' ? '' : ', at the replica too'}`, async () => {
      await startLab(configuration);
      assert.deepEqual(classifiers(), [1, 1], 'one classifier on each of lan0 and wan0');
      const c = await connect(lab, 80);
      assert.equal(await c.line(1), 'got hi replica');
      await echo(c, 2, 20);
      const carried = entryOf(c);
      assert.equal(carried?.path, 'kernel');
      assert.ok(carried.kernelPackets.toServer >= 20 && carried.kernelPackets.toClient >= 20, JSON.stringify(carried.kernelPackets));
      const counters = countersOf(lab, 'gw', 'client-gateway');
      // The start packet was tagged by the LAN classifier; the agent opened the race's entry from its clone.
      assert.deepEqual([kernelPath().startsTagged, num(counters, 'syn-tagged-in-kernel'), num(counters, 'syn-tagged')], [1, 1, 1]);
      // The client's ACK of the SYN+ACK was carried too: the agent gave no client segment a verdict.
      assert.equal(num(counters, 'to-replica'), 0, 'no client segment went through the agent');
      assert.equal(num(counters, 'won-by-replica'), 1);
      // A's answers are all plain: the race was the WAN classifier's to take, and the agent's table says who
      // took it. (This lab has no delays: an answer can reach the gateway before the agent has read the start
      // packet's clone, and then the agent judges; the next test holds the answers back.)
      assert.deepEqual([num(counters, 'race-in-kernel'), kernelPath().racing], [configuration === 'A' ? 1 : 0, 0]);
      assert.equal(kernelPath().racesWon, num(counters, 'won-in-kernel'));
      const replica = countersOf(lab, 'replica', 'replica');
      const replicaPath = replica.kernelPath as ReplicaPathState;
      // The switch's copy went to the replica's stack from its classifier: no agent there saw the start packet.
      assert.equal(replicaPath.startsAnswered, 1, JSON.stringify(replicaPath));
      assert.equal(num(replica, 'start-packets-answered'), 1, 'the kernel\'s answer is the only one');
      if (configuration === 'B') {
        // The replica's classifier sent its SYN+ACK inside server -> client, and every answer after it as the server.
        assert.equal(replicaPath.encapsulated, 1, JSON.stringify(replicaPath));
        assert.ok(replicaPath.spoofed >= 20, JSON.stringify(replicaPath));
        assert.equal(num(replica, 'spoofed-to-client') + num(replica, 'acknowledgements-spoofed'), 0, 'no answer went through the replica agent');
      }
      if (configuration === 'C') {
        // The tunnel's other end: the replica's classifiers took the client's segments out and put its answers in.
        assert.ok(replicaPath.decapsulated >= 20 && replicaPath.encapsulated >= 20, JSON.stringify(replicaPath));
        assert.equal(num(replica, 'tunnelled-from-client'), 0, 'no client segment reached the replica agent');
      }
      c.send('bye');
      assert.equal(await c.line(22), 'closed');
      await sleep(200);
      const after = kernelPath();
      assert.equal(after.left.fin, 1, JSON.stringify(after));
      assert.equal(after.flows, 0);
      assert.equal(entryOf(c)?.path, 'agent', 'the close is the agent\'s');
      assert.equal(entryOf(c)?.finFromServer, true);
    });
  }

  it('the switch holds a start packet from its arrival at the board (the kernel\'s receive stamp): a switch agent stopped for 200 ms adds nothing to a held candidate', async () => {
    await startLab('A');
    const arrived = firstStartToOrigin(lab, 'sw', 'wan0');
    // The switch's LAN link ends at the origin's eth0: what arrives there has just left the switch.
    const left = firstStartToOrigin(lab, 'origin', 'eth0');
    try {
      const { client } = await connectWhileStopped(lab, agents[1], 200);
      assert.equal(await client.line(1), 'got hi replica');
      // The origin's hold in this lab is 300 ms (switchConfig); counted from the agent's wake-up it would be 500.
      for (let i = 0; i < 20 && left.at() === 0; i++) await sleep(50);
      const heldMs = (left.at() - arrived.at()) / 1e6;
      assert.ok(arrived.at() > 0 && Math.abs(heldMs - 300) < 30, `held ${heldMs.toFixed(1)} ms`);
      client.daemon.kill();
    } finally {
      arrived.close();
      left.close();
    }
  });

  describe('the switch\'s fan-out in the plain race', () => {
    const switchPath = (): SwitchPathState => countersOf(lab, 'sw', 'server-switch').kernelPath as SwitchPathState;

    it('copies a gateway\'s tagged start packet to the replica in the classifier; neither the switch\'s agent nor the replica\'s sees it', async () => {
      await startLab('A');
      const queuedBefore = num(countersOf(lab, 'sw', 'server-switch'), 'queue-packets');
      post(lab, 'sw', 'race-mode', 'plain');
      assert.equal(switchPath().plain, true);
      const c = await connect(lab, 80);
      assert.match(await c.line(1), /^got hi (replica|origin)$/);
      c.daemon.kill();
      const sw = countersOf(lab, 'sw', 'server-switch');
      assert.deepEqual(switchPath(), { plain: true, copies: 1, copyFailures: 0 });
      assert.equal(num(sw, 'syn-fanned-out'), 1);
      assert.equal(num(sw, 'copies-sent'), 1);
      assert.equal((sw.gateways as Record<string, { fannedOut: number }>)[ADDR.gwWan].fannedOut, 1);
      assert.equal(num(sw, 'queue-packets'), queuedBefore, 'the original passed the switch\'s chain unqueued');
      assert.equal((countersOf(lab, 'replica', 'replica').kernelPath as ReplicaPathState).startsAnswered, 1, 'the copy reached the replica as the agent\'s would');
      // The synchronized race holds copies: the agent's again.
      post(lab, 'sw', 'race-mode', 'synchronized');
      assert.equal(switchPath().plain, false);
      const d = await connect(lab, 80);
      assert.equal(await d.line(1), 'got hi replica');
      d.daemon.kill();
      assert.equal(switchPath().copies, 1);
      assert.equal(num(countersOf(lab, 'sw', 'server-switch'), 'copies-sent'), 2);
    });

    it('takes a start packet only where the agent\'s reading of its options says permissible: 17 option layouts from the gateway\'s own board', async () => {
      await startLab('A');
      post(lab, 'sw', 'race-mode', 'plain');
      const tag = [253, 5, 0x53, 0x52, 1];
      const layouts: number[][] = [
        tag, [1, 1, 1, ...tag], [2, 4, 5, 0xb4, ...tag], [3, 3, 7, ...tag], [8, 10, 1, 2, 3, 4, 0, 0, 0, 0, ...tag], [253, 5, 0x12, 0x34, 1, ...tag],
        [253, 3, 0x53, ...tag], [...tag, 2, 4, 5, 0xb4], [...Array(35).fill(1), ...tag],
        [253, 5, 0x53, 0x52, 0], [253, 5, 0x53, 0x52, 2], [253, 4, 0x53, 0x52, ...tag], [253, 6, 0x53, 0x52, 1, 0], [0, ...tag], [2, 1, ...tag], [2, 40, 5, 0xb4], [],
      ];
      const sender = inNetns(lab.ns.gw, () => openRawIpSocket(IPPROTO_RAW));
      try {
        const taken: boolean[] = [];
        const permissible: boolean[] = [];
        for (const [i, options] of layouts.entries()) {
          const syn = buildSegment({ src: ADDR.gwWan, dst: ADDR.origin, srcPort: 45000 + i, dstPort: 80, flags: TcpFlag.SYN, options });
          permissible.push(readTagOf(syn) === 'permissible');
          const before = switchPath().copies;
          assert.equal(sender.sendTo(syn, addr(ADDR.origin)), true);
          await sleep(150);
          taken.push(switchPath().copies === before + 1);
        }
        assert.deepEqual(taken, permissible);
        assert.equal(permissible.filter(Boolean).length, 9, 'the layouts meant to be permissible are');
        // Every other one went to the agent, which fanned none out either.
        assert.equal(num(countersOf(lab, 'sw', 'server-switch'), 'syn-fanned-out'), 9);
      } finally {
        sender.close();
      }
    });

    it('keeps each gateway\'s fan-out budget: beyond the burst the origin alone answers, from the classifier', async () => {
      // A token per 100 s: no refill during the test.
      await startLab('A', {}, { rate: 0.01, burst: 3 });
      post(lab, 'sw', 'race-mode', 'plain');
      for (let i = 0; i < 6; i++) {
        const c = await connect(lab, 80);
        assert.match(await c.line(1), /^got hi (replica|origin)$/);
        c.daemon.kill();
      }
      const sw = countersOf(lab, 'sw', 'server-switch');
      assert.deepEqual((sw.gateways as Record<string, unknown>)[ADDR.gwWan], { fannedOut: 3, overBudget: 3, linkLayer: (sw.gateways as Record<string, { linkLayer: string }>)[ADDR.gwWan].linkLayer });
      assert.equal(num(sw, 'syn-to-origin-only-fan-out-over-budget'), 3);
      assert.equal(switchPath().copies, 3);
    });
  });

  for (const state of ['busy', 'dead'] as const) {
    it(`a ${state} replica's start packets go to its agent, which drops and counts them; the origin answers`, async () => {
      await startLab('A');
      post(lab, 'replica', state, true);
      const replicaPath = (): ReplicaPathState => countersOf(lab, 'replica', 'replica').kernelPath as ReplicaPathState;
      assert.equal(replicaPath().starting, false);
      const c = await connect(lab, 80);
      assert.equal(await c.line(1), 'got hi origin');
      c.daemon.kill();
      const replica = countersOf(lab, 'replica', 'replica');
      assert.equal(replicaPath().startsAnswered, 0, JSON.stringify(replica));
      assert.equal(num(replica, 'start-packets-answered'), 0);
      // A dead replica does nothing at all, so it counts nothing either.
      if (state === 'busy') assert.equal(num(replica, 'busy-dropped-forced'), 1, JSON.stringify(replica));
      post(lab, 'replica', state, false);
      assert.equal(replicaPath().starting, true);
      const d = await connect(lab, 80);
      assert.equal(await d.line(1), 'got hi replica');
      assert.equal(replicaPath().startsAnswered, 1);
      d.daemon.kill();
    });
  }

  it('tags a start packet in the LAN classifier byte for byte as the agent does, or leaves it to the agent: 16 layouts from the client, and one to the gateway itself', async () => {
    await startLab('A');
    const mss = (value: number): number[] => [2, 4, value >> 8, value & 0xff];
    const linux = [...mss(1460), 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];
    const layouts: { options: number[]; kernel: boolean; payload?: string }[] = [
      { options: [], kernel: true },
      { options: linux, kernel: true },
      // An MSS above the gateway's 1440 at an odd offset: lowered, its checksum words swapped.
      { options: [1, ...mss(1460), 1, 1, 1], kernel: true },
      { options: mss(1280), kernel: true },
      { options: [3, 3, 7], kernel: true },
      // The list ends at an EOL; what follows it is padding, whatever its bytes.
      { options: [...mss(1460), 0, 0, 0, 0], kernel: true },
      { options: [1, 0, 0x77, 0x77], kernel: true },
      { options: Array(32).fill(1), kernel: true },
      { options: [253, 5, 0x12, 0x34, 1, 1, 1, 1], kernel: true },
      { options: [], payload: 'early data', kernel: true },
      // The client's own tag, a damaged list, two MSS options, no room, and a header the tag would shrink.
      { options: [253, 5, 0x53, 0x52, 1, 1, 1, 1], kernel: false },
      { options: [2, 1, 0, 0], kernel: false },
      { options: [...mss(1460), ...mss(1400)], kernel: false },
      { options: Array(36).fill(1), kernel: false },
      { options: Array(12).fill(0), kernel: false },
      { options: [253, 4, 0x53, 0x52], kernel: false },
    ];
    const sent = layouts.map(({ options, payload }, i) => buildSegment({
      src: ADDR.client, dst: ADDR.origin, srcPort: 47000 + i, dstPort: 80, seq: 5000 + i, flags: TcpFlag.SYN, options, ...(payload ? { payload: Buffer.from(payload) } : {}),
    }));
    const arrived = await tapStarts('sw', ADDR.origin, async (send) => {
      assert.deepEqual(await sendEach(send, sent, () => kernelPath().startsTagged), layouts.map((l) => l.kernel));
      // A start packet to the gateway itself is the agent's, which passes it untagged.
      const tagged = kernelPath().startsTagged;
      send(buildSegment({ src: ADDR.client, dst: ADDR.gwLan, srcPort: 47100, dstPort: 80, flags: TcpFlag.SYN }), ADDR.gwLan);
      await sleep(150);
      assert.equal(kernelPath().startsTagged, tagged, 'the classifier tagged a start packet to the gateway itself');
    });
    for (const [i, syn] of sent.entries()) {
      assert.deepEqual(arrived.get(47000 + i)?.toString('hex'), asTheAgentForwards(syn).toString('hex'), `layout ${i}: ${JSON.stringify(layouts[i])}`);
    }
    const counters = countersOf(lab, 'gw', 'client-gateway');
    assert.equal(num(counters, 'syn-tagged-in-kernel'), layouts.filter((l) => l.kernel).length, 'the agent had a clone of each');
    assert.deepEqual([kernelPath().startCopyFailures, num(counters, 'kernel-clones-queue-overflowed')], [0, 0]);
    // The agent opened an entry for every one; the damaged list and the full header it sent on untagged.
    assert.deepEqual(['syn-tagged', 'syn-untagged-malformed-options', 'syn-untagged-no-option-space'].map((n) => num(counters, n)), [layouts.length, 1, 1]);
  });

  it('A, the winner cache on: the LAN classifier sends a start packet to the remembered winner untagged, byte for byte as the agent would, and the agent keeps it; layouts it cannot vouch for are the agent\'s', async () => {
    await startLab('A', {}, undefined, WINNER_CACHE);
    assert.equal(kernelPath().cachedStarts, true);
    // The synchronized holds make the replica win; the race fills the cache.
    const first = await connect(lab, 80);
    assert.equal(await first.line(1), 'got hi replica');
    first.daemon.kill();
    assert.deepEqual([kernelPath().startsTagged, kernelPath().startsCached], [1, 0]);
    const mss = (value: number): number[] => [2, 4, value >> 8, value & 0xff];
    const layouts: { options: number[]; kernel: boolean }[] = [
      { options: [], kernel: true },
      { options: [...mss(1460), 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7], kernel: true },
      // An MSS above the gateway's 1440 at an odd offset: lowered, the checksum updated for it.
      { options: [1, ...mss(1460), 1, 1, 1], kernel: true },
      { options: mss(1280), kernel: true },
      // The client's own tag (stripped by the agent) and two MSS options.
      { options: [253, 5, 0x53, 0x52, 1, 1, 1, 1], kernel: false },
      { options: [...mss(1460), ...mss(1400)], kernel: false },
    ];
    const sent = layouts.map(({ options }, i) => buildSegment({ src: ADDR.client, dst: ADDR.origin, srcPort: 47200 + i, dstPort: 80, seq: 9000 + i, flags: TcpFlag.SYN, options }));
    // At the replica's WAN: the start packet as the gateway sent it.
    const arrived = await tapStarts('replica', ADDR.replica, async (send) => {
      assert.deepEqual(await sendEach(send, sent, () => kernelPath().startsCached), layouts.map((l) => l.kernel));
    });
    for (const [i, syn] of sent.entries()) {
      assert.deepEqual(arrived.get(47200 + i)?.toString('hex'), asTheAgentSendsCached(syn).toString('hex'), `layout ${i}: ${JSON.stringify(layouts[i])}`);
    }
    const counters = countersOf(lab, 'gw', 'client-gateway');
    const inKernel = layouts.filter((l) => l.kernel).length;
    assert.deepEqual(['syn-cached-in-kernel', 'syn-cached', 'client-tag-stripped', 'kernel-clones-queue-overflowed'].map((n) => num(counters, n)), [inKernel, layouts.length, 1, 0], JSON.stringify(counters));
    assert.equal(kernelPath().startCopyFailures, 0);
    // Each answered by the winner, and recorded as a cached connection's win (the client's stack then resets it).
    assert.deepEqual(['won-by-cache', 'cache-missed-deadline-raced'].map((n) => num(countersOf(lab, 'gw', 'client-gateway'), n)), [layouts.length, 0]);
  });

  it('A, the winner cache on: a remembered winner that misses its deadline is raced from the kept start packet and forgotten, in the classifier too; the client\'s retransmission is raced', async () => {
    await startLab('A', {}, undefined, WINNER_CACHE);
    const first = await connect(lab, 80);
    assert.equal(await first.line(1), 'got hi replica');
    first.daemon.kill();
    holdStartPackets(lab, true);
    try {
      const c = startConnecting(lab, 80, ADDR.origin, 10);
      // The cached start packet, then the kept one raced at the deadline, then the client's retransmission: none answered.
      for (let i = 0; i < 30 && num(countersOf(lab, 'gw', 'client-gateway'), 'syn-retransmitted') === 0; i++) await sleep(100);
      const held = countersOf(lab, 'gw', 'client-gateway');
      assert.deepEqual(['syn-cached-in-kernel', 'cache-missed-deadline-raced', 'syn-retransmitted'].map((n) => num(held, n)), [1, 1, 1], JSON.stringify(held));
      // The retransmission was raced (tagged in the kernel), not sent to the forgotten winner.
      assert.deepEqual([kernelPath().startsCached, kernelPath().startsTagged], [1, 2]);
      holdStartPackets(lab, false);
      assert.match(await c.line(0), /^connected /);
      servedBy(await c.line(1));
      c.daemon.kill();
      assert.equal((countersOf(lab, 'gw', 'client-gateway').winnerCache as { size: number }).size, 0, 'a race after a retransmission is not remembered (Karn)');
      // Forgotten in the classifier's mirror too: the next start packet is raced, and its winner cached again.
      const next = await connect(lab, 80);
      assert.equal(await next.line(1), 'got hi replica');
      next.daemon.kill();
      assert.deepEqual([kernelPath().startsCached, kernelPath().startsTagged], [1, 3]);
      const again = await connect(lab, 80);
      assert.equal(await again.line(1), 'got hi replica');
      again.daemon.kill();
      assert.deepEqual([kernelPath().startsCached, kernelPath().startsTagged], [2, 3]);
      assert.equal(entryOf(again)?.via, 'cache');
    } finally {
      holdStartPackets(lab, false);
    }
  });

  it('A, the winner cache on: a cached start packet\'s deadline counts from its arrival: a gateway agent stopped past it races the kept start packet as soon as it runs again', async () => {
    const gateway = await startLab('A', {}, undefined, WINNER_CACHE);
    const first = await connect(lab, 80);
    assert.equal(await first.line(1), 'got hi replica');
    first.daemon.kill();
    const deadlineMs = (countersOf(lab, 'gw', 'client-gateway').winnerCache as { entries: { deadlineMs: number }[] }).entries[0].deadlineMs;
    // The client's start packet at the gateway's LAN; the kept one, raced, at the switch's WAN (the cached one goes to the replica).
    const sent = firstStartToOrigin(lab, 'gw', 'lan0');
    const raced = firstStartToOrigin(lab, 'sw', 'wan0');
    holdStartPackets(lab, true, ['replica']);
    try {
      const { client, continuedNs } = await connectWhileStopped(lab, gateway, deadlineMs + 300, 10);
      assert.equal(await client.line(1), 'got hi origin', 'the replica drops start packets: the race after the deadline goes to the origin');
      assert.equal(num(countersOf(lab, 'gw', 'client-gateway'), 'cache-missed-deadline-raced'), 1);
      const sinceSent = (raced.at() - sent.at()) / 1e6;
      const sinceContinued = (raced.at() - continuedNs) / 1e6;
      // Counted from the agent's read, the deadline would have run a whole deadline after it continued.
      assert.ok(sent.at() > 0 && sinceSent >= deadlineMs && sinceContinued < deadlineMs / 2, `raced ${sinceSent.toFixed(1)} ms after the client sent, ${sinceContinued.toFixed(1)} ms after the agent continued; deadline ${deadlineMs} ms`);
      client.daemon.kill();
    } finally {
      holdStartPackets(lab, false);
      sent.close();
      raced.close();
    }
  });

  for (const how of ['tagged', 'cached'] as const) {
    it(`a start packet ${how} in the kernel whose entry the full table refuses still connects, to the origin, as an untagged one would`, async () => {
      await startLab('A', { maxEntries: 1 }, undefined, how === 'cached' ? WINNER_CACHE : undefined);
      const c = await connect(lab, 80);
      assert.equal(await c.line(1), 'got hi replica');
      // The table's one entry is established: nothing pending to evict for the next race.
      const d = await connect(lab, 80);
      assert.equal(await d.line(1), 'got hi origin');
      const counters = countersOf(lab, 'gw', 'client-gateway');
      // Cached: the classifier sent it to the replica; the agent, with no entry for it, sent it to the origin too.
      assert.deepEqual([kernelPath().startsTagged, kernelPath().startsCached], how === 'tagged' ? [2, 0] : [1, 1]);
      assert.deepEqual([`syn-${how}-in-kernel-without-entry-table-full`, 'answer-unmatched-passed'].map((n) => num(counters, n)), [1, 1]);
      // The replica's answer (and any repeat of it) found no entry: dropped, never handed on.
      assert.ok(num(counters, 'answer-from-replica-without-entry-dropped') >= 1, JSON.stringify(counters));
      c.daemon.kill();
      d.daemon.kill();
    });
  }

  it('A: a carried connection\'s late answer gets the agent\'s RST from the WAN classifier; forged ones that do not acknowledge the start packet, come from strangers or the winner, or are framed for another MAC stay the agent\'s', async () => {
    const CLOSING_IDLE_MS = 1500;
    await startLab('A', { closingIdleMs: CLOSING_IDLE_MS });
    // Promiscuous (no -p): frames for other MACs reach the classifier too.
    const capture = lab.daemon('gw', 'tcpdump-late', ['tcpdump', '-i', 'wan0', '-nn', '-l', '-S', '-v', 'tcp[13] & 0x06 != 0']);
    await capture.waitFor('listening on');
    try {
      const c = await connect(lab, 80);
      assert.equal(await c.line(1), 'got hi replica');
      await sleep(300);
      const isn = Number(new RegExp(`${ADDR.client}\\.${c.port} > ${ADDR.origin}\\.80: Flags \\[S\\],.*? seq (\\d+)`).exec(capture.output())?.[1]);
      assert.ok(Number.isInteger(isn), capture.output());
      const startAck = (isn + 1) >>> 0;
      const answer = (src: string, ack: number) => buildSegment({ src, dst: ADDR.client, srcPort: 80, dstPort: c.port, seq: 777, ack, flags: TcpFlag.SYN | TcpFlag.ACK });
      const before = { kernel: lateResets(), counters: countersOf(lab, 'gw', 'client-gateway') };
      lab.fromRogue(answer(ADDR.origin, startAck));
      await sleep(300);
      assert.equal(lateResets() - before.kernel, 1, 'the classifier reset the late answer');
      const after = countersOf(lab, 'gw', 'client-gateway');
      assert.equal(num(after, 'late-answer-reset') - num(before.counters, 'late-answer-reset'), 1, 'the agent sent no second RST');
      lab.fromRogue(answer(ADDR.origin, (startAck + 1) >>> 0));
      lab.fromRogue(answer(ADDR.rogue, startAck));
      lab.fromRogue(answer(ADDR.replica, startAck));
      const frame = Buffer.concat([Buffer.from('025352000099', 'hex'), Buffer.from('025352000066', 'hex'), Buffer.from([0x08, 0x00]), answer(ADDR.origin, startAck)]);
      const tx = inNetns(lab.ns.rogue, () => openPacketSocket('wan0'));
      try {
        tx.send(frame);
      } finally {
        tx.close();
      }
      await sleep(300);
      assert.equal(lateResets() - before.kernel, 1, 'the classifier reset nothing else');
      const last = countersOf(lab, 'gw', 'client-gateway');
      const grew = (name: string) => num(last, name) - num(before.counters, name);
      assert.deepEqual([grew('late-answer-reset'), grew('answer-unrelated-dropped'), grew('answer-from-stranger-dropped')], [1, 1, 1], JSON.stringify(last));
      const resets = capture.output().split('\n').filter((l) => l.includes('Flags [R]'));
      // tcpdump -v checks the TCP checksum (no offloads in this lab): the RST is whole, or the answerer keeps its half-open connection.
      const toOrigin = new RegExp(`${ADDR.client}\\.${c.port} > ${ADDR.origin}\\.80: Flags \\[R\\], cksum 0x[0-9a-f]+ \\(correct\\), seq ${startAck},`);
      // The origin's own late answer and the forged one: each its one RST, and no RST to anyone else.
      assert.deepEqual([resets.filter((l) => toOrigin.test(l)).length, resets.length], [2, 2], resets.join('\n'));
      await echo(c, 2, 3);
      assert.equal(entryOf(c)?.path, 'kernel', 'the connection is carried on');
      // Back with the agent for its close, the flow stays in the map for its late answers until the entry ends.
      c.send('bye');
      assert.equal(await c.line(5), 'closed');
      await sleep(200);
      assert.deepEqual([kernelPath().flows, kernelPath().closing], [0, 1], JSON.stringify(kernelPath()));
      lab.fromRogue(answer(ADDR.origin, startAck));
      await sleep(300);
      assert.equal(lateResets() - before.kernel, 2, 'the classifier reset the late answer of a closing connection');
      assert.equal(num(countersOf(lab, 'gw', 'client-gateway'), 'late-answer-reset') - num(before.counters, 'late-answer-reset'), 2);
      // The entry ends (both FINs, then closingIdleMs) and takes the flow out of the map: an answer now is nobody's race.
      c.daemon.kill();
      await sleep(CLOSING_IDLE_MS + 1500);
      assert.equal(entryOf(c), undefined, 'the entry ended');
      assert.equal(kernelPath().closing, 0, JSON.stringify(kernelPath()));
      lab.fromRogue(answer(ADDR.origin, startAck));
      await sleep(300);
      assert.equal(lateResets() - before.kernel, 2, 'no reset for an ended connection');
    } finally {
      capture.kill();
    }
  });

  it('A: the WAN classifier takes a race\'s first answer; forged answers that cannot win leave the race pending, and one it does not judge (IP options) takes the race back to the agent', async () => {
    await startLab('A');
    const capture = lab.daemon('gw', 'tcpdump-race', ['tcpdump', '-i', 'wan0', '-nn', '-l', '-S', 'tcp[13] & 0x02 != 0']);
    await capture.waitFor('listening on');
    holdStartPackets(lab, true);
    try {
      /** A connect under way, pending in the map: its port and the acknowledgement its answers must carry. */
      const ports = new Set<number>();
      const pendingRace = async (timeoutS: number) => {
        const client = startConnecting(lab, 80, ADDR.origin, timeoutS);
        for (let i = 0; i < 100; i++) {
          // The capture's lines come late: a port raced before is not this race's.
          const syn = [...capture.output().matchAll(new RegExp(`${ADDR.client}\\.(\\d+) > ${ADDR.origin}\\.80: Flags \\[S\\], seq (\\d+)`, 'g'))].find((m) => !ports.has(Number(m[1])));
          if (syn && kernelPath().racing === 1) {
            ports.add(Number(syn[1]));
            return { client, port: Number(syn[1]), startAck: (Number(syn[2]) + 1) >>> 0 };
          }
          await sleep(100);
        }
        throw new Error(`no pending race: ${JSON.stringify(kernelPath())}\n${capture.output()}`);
      };
      const answer = (src: string, port: number, ack: number) => buildSegment({ src, dst: ADDR.client, srcPort: 80, dstPort: port, seq: 777, ack, flags: TcpFlag.SYN | TcpFlag.ACK });
      const c = await pendingRace(10);
      const before = countersOf(lab, 'gw', 'client-gateway');
      const grew = (now: Record<string, unknown>, name: string) => num(now, name) - num(before, name);
      lab.fromRogue(answer(ADDR.replica, c.port, (c.startAck + 1) >>> 0));
      lab.fromRogue(answer(ADDR.rogue, c.port, c.startAck));
      await sleep(300);
      const during = countersOf(lab, 'gw', 'client-gateway');
      assert.deepEqual([grew(during, 'answer-unrelated-dropped'), grew(during, 'answer-from-stranger-dropped')], [1, 1], JSON.stringify(during));
      const racesWon = (now: Record<string, unknown>) => grew(now, 'won-by-replica') + grew(now, 'won-by-origin');
      assert.deepEqual([kernelPath().racing, kernelPath().racesWon, racesWon(during)], [1, 0, 0], 'neither could win, nor call the race back');
      // Answered now: the client's retransmitted start packet reaches both sites, and the first answer wins in the kernel.
      holdStartPackets(lab, false);
      assert.match(await c.client.line(0), /^connected /);
      const site = servedBy(await c.client.line(1));
      const won = countersOf(lab, 'gw', 'client-gateway');
      assert.deepEqual([kernelPath().racesWon, grew(won, 'won-in-kernel'), racesWon(won), kernelPath().racing], [1, 1, 1, 0], JSON.stringify(won));
      const entry = tableOf(lab, 'gw').entries.find((e) => e.client === `${ADDR.client}:${c.port}`);
      assert.deepEqual([entry?.path, entry?.winner], ['kernel', site.address]);
      c.client.daemon.kill();

      holdStartPackets(lab, true);
      const d = await pendingRace(3);
      // A valid answer with IP options: the classifier leaves it to the agent, which judges it; the race is no longer the kernel's.
      lab.fromRogue(withIpOptions(answer(ADDR.replica, d.port, d.startAck)));
      await sleep(300);
      const taken = countersOf(lab, 'gw', 'client-gateway');
      assert.deepEqual([kernelPath().racing, kernelPath().racesWon, racesWon(taken), grew(taken, 'won-in-kernel'), grew(taken, 'won-by-replica') - grew(won, 'won-by-replica')], [0, 1, 2, 1, 1], JSON.stringify(taken));
      d.client.daemon.kill();
    } finally {
      holdStartPackets(lab, false);
      capture.kill();
    }
  });

  it('A: a winner whose clone the agent\'s queue lost is found in the map at the next sweep; the connection never notices', async () => {
    await startLab('A');
    const mark = `0x${GATEWAY_CLONES.markBit.toString(16)}/0x${GATEWAY_CLONES.markBit.toString(16)}`;
    // The raw table comes before the steering chain (mangle): the winner's clone dies on its way to the queue.
    const lose = ['PREROUTING', '-i', 'wan0', '-m', 'mark', '--mark', mark, '-j', 'DROP'];
    lab.run('gw', ['iptables', '-t', 'raw', '-I', ...lose]);
    holdStartPackets(lab, true);
    try {
      // The race pending in the map before any answer comes (the client's retransmission is answered).
      const c = startConnecting(lab, 80, ADDR.origin, 10);
      for (let i = 0; i < 50 && kernelPath().racing === 0; i++) await sleep(100);
      holdStartPackets(lab, false);
      assert.match(await c.line(0), /^connected /);
      const site = servedBy(await c.line(1));
      const port = Number(/^connected (\d+)/.exec(await c.line(0))?.[1]);
      await echo(c, 2, 3);
      const entryNow = () => tableOf(lab, 'gw').entries.find((e) => e.client === `${ADDR.client}:${port}`);
      for (let i = 0; i < 30 && entryNow()?.state === 'pending'; i++) await sleep(100);
      const entry = entryNow();
      assert.deepEqual([entry?.state, entry?.winner, entry?.path], [site.state, site.address, 'kernel'], JSON.stringify(entry));
      const counters = countersOf(lab, 'gw', 'client-gateway');
      assert.deepEqual([kernelPath().racesWon, num(counters, 'won-in-kernel'), num(counters, `won-by-${site.state}`), kernelPath().racing], [1, 1, 1, 0], JSON.stringify(counters));
      assert.equal(num(counters, 'kernel-win-clone-already-known'), 0, 'no clone reached the agent');
      c.send('bye');
      assert.equal(await c.line(5), 'closed');
      c.daemon.kill();
    } finally {
      holdStartPackets(lab, false);
      lab.run('gw', ['iptables', '-t', 'raw', '-D', ...lose]);
    }
  });

  it('a pending race leaves the map when the origin refuses the port, and when the kernel path is switched off', async () => {
    await startLab('A');
    const refused = await connect(lab, 8081);
    assert.match(await refused.line(0), /^refused/);
    assert.equal(num(countersOf(lab, 'gw', 'client-gateway'), 'refused-by-origin'), 1);
    assert.deepEqual([kernelPath().racing, kernelPath().racesWon], [0, 0], JSON.stringify(kernelPath()));
    holdStartPackets(lab, true);
    try {
      const c = startConnecting(lab, 80, ADDR.origin, 3);
      for (let i = 0; i < 50 && kernelPath().racing === 0; i++) await sleep(100);
      assert.equal(kernelPath().racing, 1);
      flip(lab, false);
      assert.equal(kernelPath().racing, 0, 'the race is the agent\'s');
      c.daemon.kill();
    } finally {
      holdStartPackets(lab, false);
    }
  });

  it('a RST the client sends ends the entry and takes the flow out of the kernel', async () => {
    await startLab('A');
    const c = await connect(lab, 80);
    assert.equal(await c.line(1), 'got hi replica');
    await echo(c, 2, 3);
    assert.equal(entryOf(c)?.path, 'kernel');
    // ss -K destroys the client's socket, which sends a RST.
    lab.run('client', ['ss', '-K', 'dst', ADDR.origin, 'dport', '=', '80', 'sport', '=', String(c.port)]);
    await sleep(300);
    assert.equal(entryOf(c), undefined, 'the entry ended');
    assert.equal(kernelPath().left.reset, 1);
    assert.equal(kernelPath().flows, 0);
    c.daemon.kill();
  });

  it('an idle carried connection expires from the table and the kernel; a busy one outlives the idle timeout', async () => {
    await startLab('A', { establishedIdleMs: 2500 });
    const idle = await connect(lab, 80);
    const busy = await connect(lab, 80);
    assert.equal(await idle.line(1), 'got hi replica');
    assert.equal(await busy.line(1), 'got hi replica');
    // 5 s of traffic on one, none on the other: only the kernel sees the busy one's segments.
    for (let i = 0; i < 10; i++) {
      busy.send(`tick ${i}`);
      assert.equal(await busy.line(2 + i), `got echo tick ${i}`);
      await sleep(500);
    }
    assert.equal(entryOf(idle), undefined, 'the idle connection expired');
    assert.equal(entryOf(busy)?.path, 'kernel', 'the busy one is still carried');
    assert.equal(kernelPath().left.expired, 1);
    assert.equal(kernelPath().flows, 1);
    busy.daemon.kill();
    idle.daemon.kill();
  });

  it('switched off, carried connections go back to the agent and carry on; on again, new ones are carried', async () => {
    await startLab('C');
    const c = await connect(lab, 80);
    assert.equal(await c.line(1), 'got hi replica');
    await echo(c, 2, 2);
    flip(lab, false);
    assert.equal(kernelPath().left['switched-off'], 1);
    assert.equal(kernelPath().tagging, false, 'start packets are the agent\'s again');
    await echo(c, 4, 2);
    assert.equal(entryOf(c)?.path, 'agent');
    assert.ok(num(countersOf(lab, 'gw', 'client-gateway'), 'to-replica') >= 2, 'the agent tunnels the segments again');
    const e = await connect(lab, 80);
    assert.equal(await e.line(1), 'got hi replica');
    assert.deepEqual([kernelPath().startsTagged, num(countersOf(lab, 'gw', 'client-gateway'), 'syn-tagged')], [1, 2], 'the agent tagged the second start packet');
    e.daemon.kill();
    flip(lab, true);
    const d = await connect(lab, 80);
    assert.equal(await d.line(1), 'got hi replica');
    assert.equal(entryOf(d)?.path, 'kernel');
    assert.equal(kernelPath().startsTagged, 2);
    c.daemon.kill();
    d.daemon.kill();
  });

  it('a SIGKILLed agent takes its classifiers with it; the restarted one attaches its own, once', async () => {
    const gateway = await startLab('A');
    const c = await connect(lab, 80);
    assert.equal(await c.line(1), 'got hi replica');
    assert.equal(entryOf(c)?.path, 'kernel');
    agents.splice(agents.indexOf(gateway), 1);
    gateway.child.kill('SIGKILL');
    await gateway.exited;
    assert.deepEqual(classifiers(), [0, 0], 'no classifier outlives its agent');
    agents.push(await lab.agent('gw', gatewayConfig('A'), 'client-gateway ready'));
    assert.deepEqual(classifiers(), [1, 1]);
    const d = await connect(lab, 80);
    assert.equal(await d.line(1), 'got hi replica');
    await echo(d, 2, 2);
    assert.equal(entryOf(d)?.path, 'kernel');
    c.daemon.kill();
    d.daemon.kill();
  });
});

/** Neither site's stack takes start packets while held: a race stays pending. */
function holdStartPackets(lab: ProtocolLab, on: boolean, boards: ('origin' | 'replica')[] = ['origin', 'replica']): void {
  const rule = 'INPUT -p tcp --dport 80 --syn -j DROP';
  // Off removes every copy, and none is no error: the finally of a test that failed half way.
  for (const board of boards) lab.run(board, ['sh', '-c', on ? `iptables -I ${rule}` : `while iptables -D ${rule} 2>/dev/null; do :; done`]);
}

/** When a board's interface first saw a start packet (a SYN alone) to the origin: the kernel's receive stamp, 0 until then. */
function firstStartToOrigin(lab: ProtocolLab, board: 'gw' | 'sw' | 'origin', ifname: string): { at(): number; close(): void } {
  const origin = parseIp(ADDR.origin);
  const tap = inNetns(lab.ns[board], () => openPacketSocket(ifname));
  let at = 0;
  tap.onFrame((frame, rxNs) => {
    if (at === 0 && frame.readUInt16BE(12) === 0x0800 && frame[23] === 6 && frame.readUInt32BE(30) === origin && (frame[47] & 0x12) === 0x02) at = rxNs;
  });
  return { at: () => at, close: () => tap.close() };
}

/** Connects the client to the origin while `agent` is stopped (SIGSTOP) for `ms`: the client, and when the agent went on. */
async function connectWhileStopped(lab: ProtocolLab, agent: AgentRun, ms: number, timeoutS?: number): Promise<{ client: Client; continuedNs: number }> {
  process.kill(agent.child.pid!, 'SIGSTOP');
  try {
    const connecting = connect(lab, 80, ADDR.origin, timeoutS);
    await sleep(ms);
    const continuedNs = monotonicNs();
    process.kill(agent.child.pid!, 'SIGCONT');
    return { client: await connecting, continuedNs };
  } finally {
    process.kill(agent.child.pid!, 'SIGCONT');
  }
}

function flip(lab: ProtocolLab, on: boolean): void {
  post(lab, 'gw', 'kernel-path', on);
}

function post(lab: ProtocolLab, board: 'gw' | 'sw' | 'replica', name: string, value: boolean | string): void {
  execFileSync('ip', ['netns', 'exec', lab.ns[board], 'curl', '-sf', '-X', 'POST', '-H', `Authorization: Bearer ${CONTROL.token}`, '-H', 'Content-Type: application/json',
    '-d', JSON.stringify(value), `http://${CONTROL.address}:${CONTROL.port}/switch/${name}`], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * What the gateway's agent makes of a SYN as its forwarding sends it on: any client tag stripped, the MSS
 * clamped (packet/tag.ts, packet/mss.ts), then `finish` (the tag of startPacket, or the cached start's
 * rewrite to the winner), one hop less.
 */
function asTheAgentSends(syn: Buffer, finish: (packet: Buffer, ip: Ipv4View, tcp: TcpView) => Buffer): Buffer {
  const packet = Buffer.from(syn);
  const ip = createIpv4View();
  const tcp = createTcpView();
  assert.equal(parseIpv4(packet, 0, ip), 'ok');
  assert.equal(parseTcp(packet, ip, tcp), 'ok');
  stripTags(packet, tcp);
  clampMss(packet, tcp, 1440);
  const out = finish(packet, ip, tcp);
  out[8]--;
  out.writeUInt16BE(0, 10);
  out.writeUInt16BE(computeIpv4HeaderChecksum(out, 0, 20), 10);
  return out;
}

/** startPacket's tagged start packet. */
const asTheAgentForwards = (syn: Buffer): Buffer => asTheAgentSends(syn, (packet, ip, tcp) => {
  const tagged = addTag(packet, ip, tcp, true);
  return tagged.ok ? tagged.packet : packet;
});

/** cached-starts.ts's start packet to the origin whose remembered winner is the replica. */
const asTheAgentSendsCached = (syn: Buffer): Buffer => asTheAgentSends(syn, (packet, ip) => {
  setDst(packet, ip, parseIp(ADDR.replica)!);
  return packet;
});

/**
 * Who answered first, from the greeting: with no delays in this lab a retransmitted start packet's two
 * answers are a near tie, and the test judges the race by its own first answer.
 */
function servedBy(greeting: string): { state: 'replica' | 'origin'; address: string } {
  const site = /^got hi (replica|origin)$/.exec(greeting)?.[1];
  assert.ok(site === 'replica' || site === 'origin', greeting);
  return { state: site, address: site === 'replica' ? ADDR.replica : ADDR.origin };
}

/** The same IPv4 packet with four bytes of options (NOPs), which the classifiers leave to the agent. */
function withIpOptions(packet: Buffer): Buffer {
  const out = Buffer.concat([packet.subarray(0, 20), Buffer.from([1, 1, 1, 0]), packet.subarray(20)]);
  out[0] = 0x46;
  out.writeUInt16BE(out.length, 2);
  out.writeUInt16BE(0, 10);
  out.writeUInt16BE(computeIpv4HeaderChecksum(out, 0, 24), 10);
  return out;
}

function readTagOf(packet: Buffer): TagReading {
  const ip = createIpv4View();
  const tcp = createTcpView();
  assert.equal(parseIpv4(packet, 0, ip), 'ok');
  assert.equal(parseTcp(packet, ip, tcp), 'ok');
  return readTag(packet, tcp);
}
