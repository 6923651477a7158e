// Issue #10, "the protocol holds on a hostile WAN": the agents in a namespace lab of their own
// (support/protocol-lab.ts), attacked with hand-made packets from a rogue board. Needs root.
import { strict as assert } from 'node:assert';
import { encapsulate } from '../src/packet/ipip';
import { createIpv4View, parseIpv4 } from '../src/packet/ipv4';
import { TcpFlag } from '../src/packet/tcp';
import { buildSegment } from './fixtures/packet-helpers';
import { openPacketSocket } from '../src/io/packet-socket';
import type { AgentRun } from './support/agent-process';
import { inNetns } from './support/netns';
import {
  ADDR, CONTROL, countersOf, createProtocolLab, gatewayConfig, replicaConfig, switchConfig, switchRole, tableOf, WEB_SERVER_PY,
  type Configuration, type Daemon, type ProtocolLab,
} from './support/protocol-lab';
import { connect, num, sleep } from './support/lab-client';

describe('hostile WAN (issue #10): agents in a namespace lab', function () {
  this.timeout(120_000);
  let lab: ProtocolLab;
  const agents: AgentRun[] = [];
  let replicaWeb: Daemon;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    lab = createProtocolLab();
    const origin = lab.daemon('origin', 'web-origin', ['python3', '-c', WEB_SERVER_PY, 'origin', '80,8080']);
    replicaWeb = lab.daemon('replica', 'web-replica', ['python3', '-c', WEB_SERVER_PY, 'replica', '80']);
    await origin.waitFor('serving');
    await replicaWeb.waitFor('serving');
  });

  after(() => lab?.destroy());

  const stopAgents = async (): Promise<void> => {
    for (const a of agents.splice(0)) await a.stop();
  };
  afterEach(stopAgents);

  async function startLab(configuration: Configuration, winner: 'origin' | 'replica', fanOutLimit?: { rate: number; burst: number }): Promise<void> {
    agents.push(await lab.agent('replica', replicaConfig(configuration), 'replica ready'));
    agents.push(await lab.agent('sw', switchConfig(winner, fanOutLimit), 'server-switch ready'));
    agents.push(await lab.agent('gw', gatewayConfig(configuration), 'client-gateway ready'));
  }

  for (const configuration of ['A', 'C'] as Configuration[]) {
    describe(`configuration ${configuration}`, () => {
      it('carries a connection won by the replica, and one won by the origin', async () => {
        await startLab(configuration, 'replica');
        const c = await connect(lab, 80);
        assert.match(await c.line(1), /^got hi replica$/);
        c.send('one');
        assert.equal(await c.line(2), 'got echo one');
        c.daemon.kill();
        assert.equal(num(countersOf(lab, 'gw', 'client-gateway'), 'won-by-replica'), 1);
        // The dynamic port is the origin's alone.
        const d = await connect(lab, 8080);
        assert.equal(await d.line(1), 'got hi origin');
        d.daemon.kill();
      });

      it('beats the blind RFC 5961 walk on a kernel-carried connection: ACKs at seq 0, 2^30, 2^31, 3*2^30, then a RST, and the connection survives', async () => {
        await startLab(configuration, 'replica');
        const c = await connect(lab, 80);
        assert.equal(await c.line(1), 'got hi replica');
        const attacked = tableOf(lab, 'gw').entries.find((e) => e.client === `${ADDR.client}:${c.port}`);
        assert.equal(attacked?.path, 'kernel', 'the walk meets the kernel path, which carries the connection');
        const forged = (seq: number, flags: number): Buffer => {
          const inner = buildSegment({ src: ADDR.origin, dst: ADDR.client, srcPort: 80, dstPort: c.port, seq, ack: 1, flags });
          if (configuration === 'A') {
            // A: the winner's own address as the source (the replica answers plainly, its address visible).
            return buildSegment({ src: ADDR.replica, dst: ADDR.client, srcPort: 80, dstPort: c.port, seq, ack: 1, flags });
          }
          // C: tunnelled, with the bound replica forged as the outer source.
          const view = createIpv4View();
          parseIpv4(inner, 0, view);
          const wrapped = encapsulate(inner, view, ADDR_N.replica, ADDR_N.client);
          assert.ok(wrapped.ok);
          return wrapped.packet;
        };
        for (const seq of [0, 2 ** 30, 2 ** 31, 3 * 2 ** 30]) lab.fromRogue(forged(seq, TcpFlag.ACK));
        lab.fromRogue(forged(3 * 2 ** 30, TcpFlag.RST));
        await sleep(300);
        c.send('still here');
        assert.equal(await c.line(2), 'got echo still here', 'the forged RST did not end the connection');
        assert.ok(num(countersOf(lab, 'gw', 'client-gateway'), 'forged-reset-dropped') >= 1);
        c.daemon.kill();
      });

      it('refuses a connection to a port nothing listens on within one round trip, and the entry ends', async () => {
        await startLab(configuration, 'replica');
        const c = await connect(lab, 8081, ADDR.origin, 5);
        const m = /^refused ([\d.]+)$/.exec(await c.line(0));
        assert.ok(m, `expected 'refused', got ${c.daemon.output()}`);
        assert.ok(Number(m[1]) < 1, `refused after ${m[1]} s`);
        assert.equal(num(countersOf(lab, 'gw', 'client-gateway'), 'refused-by-origin'), 1);
        assert.equal(tableOf(lab, 'gw').size, 0, 'the entry ended');
      });

      it('never lets a replica\'s refusal decide the race: the origin answers instead', async () => {
        replicaWeb.kill();
        await sleep(100);
        try {
          await startLab(configuration, 'replica');
          const c = await connect(lab, 80);
          assert.equal(await c.line(1), 'got hi origin');
          c.daemon.kill();
          const refusalSeen = configuration === 'C'
            ? num(countersOf(lab, 'replica', 'replica'), 'refusal-not-sent')
            : num(countersOf(lab, 'gw', 'client-gateway'), 'refusal-from-replica-dropped');
          assert.equal(refusalSeen, 1);
          // Nothing listened, so the replica's classifier left the copy to the agent, which keeps the refusal in.
          assert.equal((countersOf(lab, 'replica', 'replica').kernelPath as { startsAnswered: number }).startsAnswered, 0);
        } finally {
          replicaWeb = lab.daemon('replica', 'web-replica', ['python3', '-c', WEB_SERVER_PY, 'replica', '80']);
          await replicaWeb.waitFor('serving');
        }
      });
    });
  }

  /** A SYN from `src` with our tag, as a gateway would have sent it. */
  function taggedSyn(src: string, srcPort: number, verdict = 1): Buffer {
    return buildSegment({ src, dst: ADDR.origin, srcPort, dstPort: 80, seq: 777, flags: TcpFlag.SYN, options: [2, 4, 5, 0xb4, 1, 1, 1, 253, 5, 0x53, 0x52, verdict] });
  }

  function ipip(outerSrc: string, outerDst: string, inner: Buffer): Buffer {
    const view = createIpv4View();
    parseIpv4(inner, 0, view);
    const wrapped = encapsulate(inner, view, ipNum(outerSrc), ipNum(outerDst));
    assert.ok(wrapped.ok);
    return wrapped.packet;
  }

  describe('attacks on the race (configuration A unless said)', () => {
    it('1. a replica takes start packets only from its switch, and in C client segments only from their own source', async () => {
      agents.push(await lab.agent('replica', replicaConfig('C'), 'replica ready'));
      lab.fromRogue(ipip(ADDR.rogue, ADDR.replica, taggedSyn(ADDR.client, 40001)));
      lab.fromRogue(ipip(ADDR.rogue, ADDR.replica, buildSegment({ src: ADDR.client, dst: ADDR.origin, srcPort: 40002, dstPort: 80, flags: TcpFlag.ACK })));
      await sleep(300);
      const counters = countersOf(lab, 'replica', 'replica');
      assert.equal(num(counters, 'ipip-from-stranger-dropped'), 1);
      assert.equal(num(counters, 'tunnel-outer-source-not-client-dropped'), 1);
      assert.equal(num(counters, 'start-packets-answered'), 0);
      assert.equal(num(counters, 'tunnelled-from-client'), 0);
    });

    for (const race of ['synchronized', 'plain'] as const) {
      it(`2. the switch fans out only gateways' tags, within each gateway's budget, in the ${race} race${race === 'plain' ? ' (its classifier\'s)' : ''}`, async () => {
        // A token per 100 s: however long the six connections below take on a loaded host, none refills the burst.
        await startLab('A', 'replica', { rate: 0.01, burst: 3 });
        if (race === 'plain') setRaceMode(lab, 'plain');
        // From the rogue, with a victim's address: the origin alone answers, once per forged SYN.
        for (let i = 0; i < 20; i++) lab.fromRogue(taggedSyn('10.61.255.99', 41000 + i));
        await sleep(300);
        let sw = countersOf(lab, 'sw', 'server-switch');
        assert.equal(num(sw, 'syn-to-origin-only-tag-from-non-gateway'), 20);
        assert.equal(num(sw, 'copies-sent'), 0, 'amplification: no copy, so at most the origin\'s one SYN+ACK per forged SYN');
        assert.equal(num(countersOf(lab, 'replica', 'replica'), 'start-packets-answered'), 0);
        // Through the gateway: 3 fanned out (the burst), the rest to the origin alone; every connection works.
        const served: string[] = [];
        for (let i = 0; i < 6; i++) {
          const c = await connect(lab, 80);
          served.push(await c.line(1));
          c.daemon.kill();
        }
        sw = countersOf(lab, 'sw', 'server-switch');
        assert.equal(num(sw, 'syn-fanned-out'), 3);
        assert.equal(num(sw, 'syn-to-origin-only-fan-out-over-budget'), 3);
        const winners = served.map((l) => l.replace('got hi ', ''));
        // Over the budget the origin alone has the SYN; within it the plain race may go either way here.
        assert.deepEqual(winners.slice(3), ['origin', 'origin', 'origin']);
        if (race === 'synchronized') assert.deepEqual(winners.slice(0, 3), ['replica', 'replica', 'replica']);
        if (race === 'plain') assert.equal((sw.kernelPath as { copies: number }).copies, 3, 'the classifier sent every copy');
      });
    }

    it('2. a client host\'s own option 253 never reaches the switch', async () => {
      await startLab('A', 'origin');
      const sock = lab.daemon('client', 'own-tag', ['python3', '-c', `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.sendto(bytes.fromhex('${taggedSyn(ADDR.client, 42000, 0).toString('hex')}'), ('${ADDR.origin}', 0))
print('sent', flush=True)`]);
      await sock.waitFor('sent');
      await sleep(300);
      const gw = countersOf(lab, 'gw', 'client-gateway');
      assert.equal(num(gw, 'client-tag-stripped'), 1);
      assert.equal(num(gw, 'syn-tagged'), 1);
      // The client's 'not permissible' was replaced by the gateway's own tag.
      assert.equal(num(countersOf(lab, 'sw', 'server-switch'), 'syn-fanned-out'), 1);
    });

    it('5. a board that is both client gateway and server switch keeps both roles\' rules', async () => {
      agents.push(await lab.agent('replica', replicaConfig('A'), 'replica ready'));
      agents.push(await lab.agent('sw', switchConfig('replica'), 'server-switch ready'));
      const both = gatewayConfig('A') as { roles: Record<string, unknown> };
      const role = switchRole('replica') as Record<string, unknown>;
      both.roles['server-switch'] = { ...role, switchAddress: ADDR.gwWan };
      agents.push(await lab.agent('gw', both, 'server-switch ready'));
      const rules = lab.run('gw', ['iptables', '-t', 'mangle', '-S']);
      assert.match(rules, /-A PREROUTING -j SYNRACE-GW/);
      assert.match(rules, /-A PREROUTING -j SYNRACE-SW/);
      assert.match(rules, /-A SYNRACE-GW .*--queue-num 21330/);
      assert.match(rules, /-A SYNRACE-SW .*--queue-num 21332/);
      const c = await connect(lab, 80);
      assert.equal(await c.line(1), 'got hi replica', 'the gateway still translates the replica-bound connection');
      c.send('x');
      assert.equal(await c.line(2), 'got echo x');
      c.daemon.kill();
      await stopAgents();
      assert.doesNotMatch(lab.run('gw', ['iptables', '-t', 'mangle', '-S']), /SYNRACE/);
    });

    it('6. what the gateway does not own stays under the board\'s FORWARD rules and rp_filter', async () => {
      await startLab('A', 'origin');
      lab.run('gw', ['iptables', '-A', 'FORWARD', '-i', 'wan0', '-s', ADDR.rogue, '-p', 'tcp', '--sport', '80', '-j', 'DROP']);
      lab.run('client', ['iptables', '-A', 'INPUT', '-p', 'tcp', '--sport', '80', '--dport', '43000', '-j', 'ACCEPT']);
      try {
        lab.fromRogue(buildSegment({ src: ADDR.rogue, dst: ADDR.client, srcPort: 80, dstPort: 43000, flags: TcpFlag.ACK }));
        // Spoofing a LAN address from the WAN: strict rp_filter drops it.
        lab.fromRogue(buildSegment({ src: '10.61.1.99', dst: ADDR.client, srcPort: 80, dstPort: 43000, flags: TcpFlag.ACK }));
        await sleep(300);
        const forward = lab.run('gw', ['iptables', '-L', 'FORWARD', '-v', '-x', '-n']);
        assert.match(forward, /^\s*1\s+\d+\s+DROP/m, forward);
        const input = lab.run('client', ['iptables', '-L', 'INPUT', '-v', '-x', '-n']);
        assert.match(input, /^\s*0\s+0\s+ACCEPT/m, `the client got them: ${input}`);
        // Both reached the agent (PREROUTING comes before routing) and were handed back untouched.
        assert.equal(num(countersOf(lab, 'gw', 'client-gateway'), 'unmatched-passed'), 2);
      } finally {
        lab.run('gw', ['iptables', '-F', 'FORWARD']);
        lab.run('client', ['iptables', '-F', 'INPUT']);
      }
    });

    it('7. frames for another MAC are not the gateway\'s, with tcpdump (promiscuous) running', async () => {
      await startLab('A', 'origin');
      const dumps = ['lan0', 'wan0'].map((ifname) => lab.daemon('gw', `tcpdump-${ifname}`, ['tcpdump', '-i', ifname, '-n', '-c', '1000000', 'tcp']));
      try {
        for (const d of dumps) await d.waitFor('listening on');
        const frame = Buffer.concat([Buffer.from('025352000099', 'hex'), Buffer.from('025352000010', 'hex'), Buffer.from([0x08, 0x00]), buildSegment({ src: ADDR.client, dst: ADDR.origin, srcPort: 44000, dstPort: 80, seq: 5, flags: TcpFlag.SYN })]);
        const tx = inNetns(lab.ns.client, () => openPacketSocket('eth0'));
        try {
          for (let i = 0; i < 5; i++) tx.send(frame);
        } finally {
          tx.close();
        }
        await sleep(300);
        const gw = countersOf(lab, 'gw', 'client-gateway');
        assert.equal(num(gw, 'syn-tagged'), 0, JSON.stringify(gw));
        assert.equal(tableOf(lab, 'gw').size, 0);
        const c = await connect(lab, 80);
        assert.equal(await c.line(1), 'got hi origin');
        c.daemon.kill();
        assert.equal(num(countersOf(lab, 'gw', 'client-gateway'), 'syn-tagged'), 1);
      } finally {
        for (const d of dumps) d.kill();
      }
    });

    it('9. a SIGKILLed gateway agent leaves web traffic flowing at once, and a restarted one takes over', async () => {
      await startLab('A', 'origin');
      const kept = await connect(lab, 8080);
      assert.equal(await kept.line(1), 'got hi origin');
      const gw = agents.pop()!;
      gw.child.kill('SIGKILL');
      await gw.exited;
      kept.send('after the kill');
      assert.equal(await kept.line(2), 'got echo after the kill', 'an origin connection goes on');
      const fresh = await connect(lab, 80);
      const m = /^connected \d+ ([\d.]+)$/.exec(await fresh.line(0));
      assert.ok(m && Number(m[1]) < 0.5, `new connection: ${fresh.daemon.output()}`);
      fresh.daemon.kill();
      const restarted = await lab.agent('gw', gatewayConfig('A'), 'client-gateway ready');
      agents.push(restarted);
      const jumps = lab.run('gw', ['iptables', '-t', 'mangle', '-S', 'PREROUTING']).split('\n').filter((l) => l.includes('SYNRACE-GW'));
      assert.equal(jumps.length, 1, 'one jump to the chain, the killed agent\'s replaced');
      const again = await connect(lab, 80);
      assert.equal(await again.line(1), 'got hi origin');
      again.daemon.kill();
      kept.daemon.kill();
      assert.equal(num(countersOf(lab, 'gw', 'client-gateway'), 'syn-tagged'), 1, 'the restarted agent tags again');
    });
  });
});

const ADDR_N = {
  replica: ipNum(ADDR.replica),
  client: ipNum(ADDR.client),
};

function ipNum(text: string): number {
  return text.split('.').reduce((a, b) => a * 256 + Number(b), 0);
}

function setRaceMode(lab: ProtocolLab, mode: string): void {
  lab.run('sw', ['curl', '-sf', '-X', 'POST', '-H', `Authorization: Bearer ${CONTROL.token}`, '-H', 'Content-Type: application/json',
    '-d', JSON.stringify(mode), `http://${CONTROL.address}:${CONTROL.port}/switch/race-mode`]);
}
