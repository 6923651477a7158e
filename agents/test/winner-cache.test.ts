// Issue #14: the winner cache on its own, and the client gateway's cached start packets with a fake clock,
// fake timers and a fake raw sender.
import { strict as assert } from 'node:assert';
import { Counters } from '../src/protocol/counters';
import { createIpv4View, createTcpView, parseIpv4, parseTcp, readTag, TcpFlag } from '../src/packet';
import { crack } from '../src/packet/ipip';
import type { Verdicts } from '../src/protocol/steered-queue';
import { createGatewayCore } from '../src/roles/client-gateway';
import { createReplicaCore } from '../src/roles/replica';
import { encapsulate } from '../src/packet/ipip';
import type { ClientGatewayConfig, Configuration } from '../src/roles/client-gateway-config';
import { MAX_DEADLINE_MS, WinnerCache } from '../src/table/winner-cache';
import { buildSegment, ip } from './fixtures/packet-helpers';

const SERVER = ip('10.10.0.80');
const REPLICA = ip('10.255.0.33');
const OTHER_REPLICA = ip('10.255.0.31');
const GATEWAY_WAN = ip('10.255.0.13');
const CLIENT = '10.3.0.10';
const options = { ttlMs: 1000, maxEntries: 3, deadlineSlackMs: 20 };

describe('WinnerCache', () => {
  it('gives the winner until the TTL, counted from the race and not moved by use', () => {
    const cache = new WinnerCache(options);
    cache.remember(SERVER, 80, REPLICA, 200, 0);
    assert.equal(cache.lookup(SERVER, 80, 500)?.winner, REPLICA);
    assert.equal(cache.lookup(SERVER, 80, 999)?.winner, REPLICA, 'used at 500, still counted from 0');
    assert.equal(cache.lookup(SERVER, 80, 1000), undefined, 'expired at the TTL');
    assert.equal(cache.size, 0, 'an expired entry is forgotten');
  });

  it('keeps each server and port apart', () => {
    const cache = new WinnerCache(options);
    cache.remember(SERVER, 80, REPLICA, 200, 0);
    cache.remember(SERVER, 8080, SERVER, 200, 0);
    assert.equal(cache.lookup(SERVER, 80, 1)?.winner, REPLICA);
    assert.equal(cache.lookup(SERVER, 8080, 1)?.winner, SERVER);
    assert.equal(cache.lookup(SERVER, 443, 1), undefined);
    assert.equal(cache.lookup(OTHER_REPLICA, 80, 1), undefined);
  });

  it('holds at most maxEntries, the least recently used going first', () => {
    const cache = new WinnerCache(options);
    for (const port of [1, 2, 3]) cache.remember(SERVER, port, REPLICA, 10, 0);
    cache.lookup(SERVER, 1, 1); // 2 is now the least recently used
    cache.remember(SERVER, 4, REPLICA, 10, 2);
    assert.equal(cache.size, 3);
    assert.equal(cache.lookup(SERVER, 2, 3), undefined);
    assert.ok(cache.lookup(SERVER, 1, 3) && cache.lookup(SERVER, 3, 3) && cache.lookup(SERVER, 4, 3));
  });

  it('starts the deadline from the race, restarts it from the first direct RTT, then follows RFC 6298', () => {
    const cache = new WinnerCache(options);
    cache.remember(SERVER, 80, REPLICA, 240, 0);
    const entry = cache.lookup(SERVER, 80, 1)!;
    assert.equal(cache.deadlineMs(entry), 240 + 4 * 120, 'SRTT + 4 RTTVAR from the race time');
    cache.sample(entry, 70);
    assert.equal(cache.deadlineMs(entry), 70 + 4 * 35, 'a direct sample replaces the race estimate');
    for (let i = 0; i < 40; i++) cache.sample(entry, 70);
    assert.ok(Math.abs(cache.deadlineMs(entry) - 90) < 0.5, `steady samples shrink RTTVAR to the slack floor: ${cache.deadlineMs(entry)}`);
    cache.remember(SERVER, 81, REPLICA, 900, 0);
    assert.equal(cache.deadlineMs(cache.lookup(SERVER, 81, 1)!), MAX_DEADLINE_MS, 'capped');
  });

  it('evicts only the entry that failed, and off forgets everything', () => {
    const cache = new WinnerCache(options);
    cache.remember(SERVER, 80, REPLICA, 10, 0);
    const stale = cache.lookup(SERVER, 80, 1)!;
    cache.remember(SERVER, 80, OTHER_REPLICA, 10, 2);
    assert.equal(cache.evict(stale), false, 'a newer race replaced it: the new winner stays');
    assert.equal(cache.lookup(SERVER, 80, 3)?.winner, OTHER_REPLICA);
    assert.equal(cache.evict(cache.lookup(SERVER, 80, 3)!), true);
    assert.equal(cache.lookup(SERVER, 80, 4), undefined);
    cache.remember(SERVER, 80, REPLICA, 10, 5);
    cache.setEnabled(false);
    assert.equal(cache.lookup(SERVER, 80, 6), undefined);
    cache.remember(SERVER, 80, REPLICA, 10, 6);
    cache.setEnabled(true);
    assert.equal(cache.lookup(SERVER, 80, 7), undefined, 'nothing was remembered while off');
  });

  it('tells its listener (the kernel path\'s mirror) of every winner it remembers and forgets, however it forgets', () => {
    const heard: string[] = [];
    const cache = new WinnerCache(options, {
      remembered: (e) => heard.push(`+${e.port}`),
      forgotten: (e) => heard.push(`-${e.port}`),
    });
    for (const port of [1, 2, 3, 4]) cache.remember(SERVER, port, REPLICA, 10, 0);
    assert.deepEqual(heard.splice(0), ['+1', '+2', '+3', '-1', '+4'], 'the least recently used makes room');
    assert.equal(cache.lookup(SERVER, 2, 1000), undefined);
    assert.equal(cache.evict(cache.lookup(SERVER, 3, 1)!), true);
    assert.deepEqual(heard.splice(0), ['-2', '-3'], 'expired at a lookup, then evicted');
    cache.remember(SERVER, 4, OTHER_REPLICA, 10, 1);
    cache.setEnabled(false);
    assert.deepEqual(heard.splice(0), ['+4', '-4'], 'a new winner replaces the old under its key; off forgets all');
  });

  it('finds the entry a mirror sent a start packet for while it names that winner, its TTL judged by the mirror', () => {
    const cache = new WinnerCache(options);
    cache.remember(SERVER, 80, REPLICA, 10, 0);
    assert.equal(cache.sentTo(SERVER, 80, OTHER_REPLICA), undefined, 'another winner is not this entry');
    const entry = cache.sentTo(SERVER, 80, REPLICA);
    assert.equal(entry?.hits, 1);
    cache.remember(SERVER, 80, OTHER_REPLICA, 10, 5);
    assert.equal(cache.sentTo(SERVER, 80, REPLICA), undefined, 'replaced since the mirror sent it');
  });
});

interface Sent { packet: Buffer; dst: number }

/** A gateway core with a hand-turned clock and timers, recording verdicts and what it sent itself. */
function harness(configuration: Configuration) {
  const config: ClientGatewayConfig = {
    lanInterface: 'lan0', wanInterface: 'wan0', webPorts: [80, 8080], configuration, maxMss: 1440, kernelPath: false,
    localAddresses: [ip('10.3.0.1'), GATEWAY_WAN], table: {}, candidates: [{ server: SERVER, replicas: [REPLICA, OTHER_REPLICA] }],
    winnerCache: { ttlMs: 30_000, maxEntries: 16, deadlineSlackMs: 20, tunnelSource: GATEWAY_WAN },
  };
  const counters = new Counters();
  const sent: Sent[] = [];
  let clock = 0;
  const timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
  const core = createGatewayCore(config, counters, (packet, dst) => sent.push({ packet: Buffer.from(packet), dst }), () => clock, (ms, fn) => {
    const timer = { at: clock + ms, fn, cancelled: false };
    timers.push(timer);
    return () => (timer.cancelled = true);
  });
  const verdict = (send: (v: Verdicts) => void): { kind: string; packet?: Buffer } => {
    let out: { kind: string; packet?: Buffer } = { kind: 'none' };
    send({ pass: () => (out = { kind: 'pass' }), rewritten: (p) => (out = { kind: 'rewritten', packet: Buffer.from(p) }), drop: () => (out = { kind: 'drop' }) });
    return out;
  };
  let nextPort = 40000;
  return {
    counters: () => counters.toJSON() as Record<string, number>,
    sent,
    cache: () => core.cachedStarts!.cache,
    table: () => core.table.dump(clock),
    advance(ms: number) {
      clock += ms;
      for (const t of timers.splice(0).sort((a, b) => a.at - b.at)) {
        if (t.at > clock) timers.push(t);
        else if (!t.cancelled) t.fn();
      }
    },
    syn(port = nextPort++, seq = 1000, dstPort = 80) {
      return { port, seq, result: verdict((v) => core.fromClient(buildSegment({ src: CLIENT, dst: '10.10.0.80', srcPort: port, dstPort, seq, flags: TcpFlag.SYN }), v)) };
    },
    /** A SYN+ACK from `from` for the connection from client port `port`, plain (A) or as B and C wrap it. */
    answer(from: number, port: number, seq = 1000, dstPort = 80) {
      const fromText = [SERVER, REPLICA, OTHER_REPLICA].map((a) => [a, `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`] as const).find(([a]) => a === from)![1];
      const plain = buildSegment({ src: fromText, dst: CLIENT, srcPort: dstPort, dstPort: port, seq: 5000, ack: seq + 1, flags: TcpFlag.SYN | TcpFlag.ACK });
      return verdict((v) => core.fromServer(plain, v));
    },
    refuse(from: string, port: number, seq = 1000) {
      return verdict((v) => core.fromServer(buildSegment({ src: from, dst: CLIENT, srcPort: 80, dstPort: port, seq: 0, ack: seq + 1, flags: TcpFlag.RST | TcpFlag.ACK }), v));
    },
  };
}

function parsedTcp(packet: Buffer) {
  const ipv = createIpv4View();
  const tcp = createTcpView();
  assert.equal(parseIpv4(packet, 0, ipv), 'ok');
  assert.equal(parseTcp(packet, ipv, tcp), 'ok');
  return { ip: ipv, tcp, tag: readTag(packet, tcp) };
}

describe('client gateway: cached start packets (configuration A)', () => {
  it('races the first connection, then sends the next ones untagged straight to the winner, saying so', () => {
    const gw = harness('A');
    const first = gw.syn();
    assert.equal(first.result.kind, 'rewritten');
    assert.equal(parsedTcp(first.result.packet!).tag, 'permissible', 'the first SYN is tagged for the race');
    gw.advance(240);
    gw.answer(REPLICA, first.port);
    assert.equal(gw.cache().lookup(SERVER, 80, 240)?.winner, REPLICA);

    const second = gw.syn();
    const p = parsedTcp(second.result.packet!);
    assert.equal(second.result.kind, 'rewritten');
    assert.equal(p.ip.dst, REPLICA, 'translated to the cached winner');
    assert.equal(p.tag, 'absent', 'and untagged: no fan-out');
    gw.advance(70);
    assert.equal(gw.answer(REPLICA, second.port).kind, 'rewritten', 'its SYN+ACK reaches the client as from the server');
    const vias = Object.fromEntries(gw.table().entries.map((e) => [e.client, e.via]));
    assert.deepEqual(vias, { [`${CLIENT}:${first.port}`]: 'race', [`${CLIENT}:${second.port}`]: 'cache' });
    assert.equal(gw.counters()['won-by-cache'], 1);
    assert.equal(gw.counters()['syn-cached'], 1);
    assert.equal(gw.sent.length, 0, 'nothing sent by the gateway itself in A');
  });

  it('caches per port: a connection to another web port races on its own', () => {
    const gw = harness('A');
    const first = gw.syn();
    gw.answer(REPLICA, first.port);
    const dynamic = gw.syn(undefined, 1000, 8080);
    assert.equal(parsedTcp(dynamic.result.packet!).tag, 'permissible');
    assert.equal(parsedTcp(dynamic.result.packet!).ip.dst, SERVER);
  });

  it('races again once the TTL has run out', () => {
    const gw = harness('A');
    gw.answer(REPLICA, gw.syn().port);
    gw.advance(30_000);
    const late = gw.syn();
    assert.equal(parsedTcp(late.result.packet!).ip.dst, SERVER);
    assert.equal(parsedTcp(late.result.packet!).tag, 'permissible');
  });

  it('races the kept SYN when the winner misses its deadline, evicts it, and lets a late answer serve without refilling', () => {
    const gw = harness('A');
    const first = gw.syn();
    gw.advance(100);
    gw.answer(REPLICA, first.port);
    const deadline = gw.cache().deadlineMs(gw.cache().lookup(SERVER, 80, 100)!);
    const cached = gw.syn();
    gw.advance(deadline - 1);
    assert.equal(gw.sent.length, 0, 'not before the deadline');
    gw.advance(1);
    assert.equal(gw.sent.length, 1, 'the kept SYN is raced at the deadline');
    const raced = parsedTcp(gw.sent[0].packet);
    assert.deepEqual([raced.ip.dst, raced.tcp.srcPort, raced.tcp.seq, raced.tag, gw.sent[0].dst], [SERVER, cached.port, 1000, 'permissible', SERVER]);
    assert.equal(gw.counters()['cache-missed-deadline-raced'], 1);
    assert.equal(gw.cache().size, 0, 'the failed winner is forgotten');
    gw.advance(5);
    gw.answer(REPLICA, cached.port);
    assert.equal(gw.counters()['won-by-late-cached-winner'], 1);
    assert.equal(gw.cache().size, 0, 'an answer after the deadline does not refill the cache');
    assert.equal(gw.table().entries.find((e) => e.client.endsWith(`:${cached.port}`))?.via, 'race-after-cache');
  });

  it('races a retransmitted SYN itself, and a refusal from the cached winner at once', () => {
    const gw = harness('A');
    gw.answer(REPLICA, gw.syn().port);
    const cached = gw.syn();
    const again = gw.syn(cached.port, cached.seq);
    assert.equal(parsedTcp(again.result.packet!).ip.dst, SERVER, 'the retransmission goes to the race');
    assert.equal(parsedTcp(again.result.packet!).tag, 'permissible');
    assert.equal(gw.counters()['cache-missed-retransmission-raced'], 1);
    assert.equal(gw.sent.length, 0, 'the kept copy is not sent as well');

    gw.answer(OTHER_REPLICA, gw.syn().port); // refills the cache with another winner
    const refused = gw.syn();
    assert.equal(gw.refuse('10.255.0.31', refused.port).kind, 'drop', 'the replica refusal never reaches the client');
    assert.equal(gw.counters()['cache-missed-refusal-raced'], 1);
    assert.equal(parsedTcp(gw.sent[0].packet).tag, 'permissible');
  });

  it('sends a cached connection to the origin as it is, untagged', () => {
    const gw = harness('A');
    gw.answer(SERVER, gw.syn().port);
    const cached = gw.syn();
    const p = parsedTcp(cached.result.packet!);
    assert.deepEqual([p.ip.dst, p.tag], [SERVER, 'absent']);
  });

  it('remembers nothing when the cache is off, and no race whose SYN was retransmitted (Karn)', () => {
    const gw = harness('A');
    gw.cache().setEnabled(false);
    gw.answer(REPLICA, gw.syn().port);
    assert.equal(gw.cache().size, 0);
    gw.cache().setEnabled(true);
    const lossy = gw.syn();
    gw.syn(lossy.port, lossy.seq);
    gw.answer(REPLICA, lossy.port);
    assert.equal(gw.cache().size, 0);
  });
});

for (const configuration of ['B', 'C'] as Configuration[]) {
  describe(`client gateway: cached start packets (configuration ${configuration})`, () => {
    it('tunnels the cached SYN from the gateway\'s WAN address to the winner, sent by the gateway itself', () => {
      const gw = harness(configuration);
      gw.answer(REPLICA, gw.syn().port);
      const cached = gw.syn();
      assert.equal(cached.result.kind, 'drop', 'the original does not go on');
      assert.equal(gw.sent.length, 1);
      const outer = createIpv4View();
      const inner = createIpv4View();
      assert.equal(parseIpv4(gw.sent[0].packet, 0, outer), 'ok');
      assert.equal(crack(gw.sent[0].packet, outer, inner), 'ok');
      const tcp = createTcpView();
      assert.equal(parseTcp(gw.sent[0].packet, inner, tcp), 'ok');
      assert.deepEqual([outer.src, outer.dst, inner.dst, tcp.srcPort, readTag(gw.sent[0].packet, tcp)], [GATEWAY_WAN, REPLICA, SERVER, cached.port, 'absent']);
      assert.equal(gw.sent[0].dst, REPLICA);
    });
  });
}

describe('replica: cached start packets from a client gateway (B and C)', () => {
  const SWITCH = ip('10.255.0.20');
  const ROGUE = ip('10.255.0.66');
  function replica() {
    const counters = new Counters();
    const injected: Buffer[] = [];
    const core = createReplicaCore(
      { ownAddress: REPLICA, serverAddresses: [SERVER], configuration: 'C', busyLoad: 50, switchAddresses: [SWITCH], kernelPath: false, gateways: [{ address: GATEWAY_WAN, clients: [{ network: ip('10.3.0.0'), mask: 0xffffff00 }] }] },
      counters, (p) => injected.push(Buffer.from(p)), () => undefined,
    );
    const tunnelled = (outerSrc: number, client: string) => {
      const syn = buildSegment({ src: client, dst: '10.10.0.80', srcPort: 41000, dstPort: 80, flags: TcpFlag.SYN });
      const view = createIpv4View();
      parseIpv4(syn, 0, view);
      const wrapped = encapsulate(syn, view, outerSrc, REPLICA);
      assert.ok(wrapped.ok);
      core.onCopy(wrapped.packet);
    };
    return { counters: () => counters.toJSON() as Record<string, number>, injected, tunnelled };
  }

  it('answers a gateway\'s SYN for its own clients, and drops one for anyone else or from anyone else', () => {
    const r = replica();
    r.tunnelled(GATEWAY_WAN, CLIENT);
    assert.equal(r.injected.length, 1);
    assert.equal(r.counters()['cached-start-from-gateway'], 1);
    r.tunnelled(GATEWAY_WAN, '10.1.0.10');
    assert.equal(r.counters()['cached-start-for-foreign-client-dropped'], 1, 'another site\'s client through this gateway');
    r.tunnelled(ROGUE, CLIENT);
    assert.equal(r.counters()['ipip-from-stranger-dropped'], 1);
    assert.equal(r.injected.length, 1, 'only the first reached the stack');
  });
});
