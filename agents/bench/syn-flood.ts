// A SYN flood of RATE SYN/s for SECONDS s into a client gateway (from its LAN, random client addresses and
// ports), then into the server switch (tagged SYNs from a WAN board outside the gateway set), in the agents'
// own namespace lab (test/support/protocol-lab.ts, configuration A). Measured: the gateway's table against
// its bound, each agent's RSS, and legitimate handshakes (connect time, from the client host, through the
// gateway and the switch) during the flood against before it. Prints one JSON document; progress on stderr.
// Run as root: node agents/dist/bench/syn-flood.js [rate] [seconds]
import { readFileSync } from 'node:fs';
import { monotonicNs } from '../src/io/clock';
import { openPacketSocket, type PacketSocket } from '../src/io/packet-socket';
import { createPreciseTimer } from '../src/io/precise-timer';
import { TcpFlag } from '../src/packet/tcp';
import { computeIpv4HeaderChecksum } from '../src/packet/ipv4';
import { computeTcpChecksum } from '../src/packet/tcp';
import { buildSegment } from '../test/fixtures/packet-helpers';
import type { AgentRun } from '../test/support/agent-process';
import { inNetns } from '../test/support/netns';
import { ADDR, CONTROL, createProtocolLab, gatewayConfig, replicaConfig, switchConfig, WEB_SERVER_PY, type ProtocolLab } from '../test/support/protocol-lab';
import { percentile, round3 } from './stats';

const RATE = Number(process.argv[2] ?? 100_000);
const SECONDS = Number(process.argv[3] ?? 10);
const TICK_NS = 1e6;
const HANDSHAKE_EVERY_MS = 100;

const log = (m: string): void => void process.stderr.write(`${m}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : NaN;
}

function macOf(lab: ProtocolLab, board: 'gw' | 'sw' | 'client' | 'rogue', ifname: string): Buffer {
  const [link] = JSON.parse(lab.run(board, ['ip', '-j', 'link', 'show', ifname])) as { address: string }[];
  return Buffer.from(link.address.replace(/:/g, ''), 'hex');
}

/** Handshakes from the client host, one every `everyMs` for `seconds`: connect times in ms (NaN: failed). */
const PROBE_PY = `
import socket, sys, time
host, port, every, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) / 1000, float(sys.argv[4])
end = time.monotonic() + seconds
while time.monotonic() < end:
    s = socket.socket(); s.settimeout(3)
    t = time.perf_counter()
    try:
        s.connect((host, port)); print('%.3f' % ((time.perf_counter() - t) * 1000), flush=True)
    except Exception:
        print('nan', flush=True)
    s.close()
    time.sleep(every)
print('done', flush=True)
`;

async function handshakes(lab: ProtocolLab, everyMs: number, seconds: number): Promise<number[]> {
  const d = lab.daemon('client', `flood-probe-${Date.now() % 1e6}`, ['python3', '-c', PROBE_PY, ADDR.origin, '80', String(everyMs), String(seconds)]);
  await d.waitFor('done', (seconds + 10) * 1000);
  return d.output().split('\n').filter((l) => l && l !== 'done').map(Number);
}

/** Sends RATE frames per second for SECONDS, each a SYN with a fresh source (address, port) and sequence number. */
function flood(tx: PacketSocket, template: Buffer, srcBase: number, srcSpan: number): Promise<{ sent: number; refused: number }> {
  return new Promise((resolve) => {
    const total = RATE * SECONDS;
    const interval = 1e9 / RATE;
    const start = monotonicNs() + TICK_NS;
    const frame = Buffer.from(template);
    let sent = 0;
    let refused = 0;
    const timer = createPreciseTimer(() => {
      const due = Math.min(total, Math.floor((monotonicNs() - start) / interval) + 1);
      for (; sent < due; sent++) {
        const src = srcBase + (sent % srcSpan);
        frame.writeUInt32BE(src >>> 0, 14 + 12);
        frame.writeUInt16BE(1024 + (Math.floor(sent / srcSpan) % 60000), 34);
        frame.writeUInt32BE((sent * 2654435761) >>> 0, 38);
        frame.writeUInt16BE(0, 24);
        frame.writeUInt16BE(computeIpv4HeaderChecksum(frame, 14, 20), 24);
        frame.writeUInt16BE(0, 50);
        frame.writeUInt16BE(computeTcpChecksum(frame, src >>> 0, frame.readUInt32BE(30), 34, frame.length), 50);
        if (!tx.send(frame)) refused++;
      }
      if (sent < total) return timer.armAt(start + Math.ceil((monotonicNs() - start) / TICK_NS) * TICK_NS);
      timer.close();
      resolve({ sent, refused });
    });
    timer.armAt(start);
  });
}

interface Phase {
  target: 'gateway' | 'switch';
  sent: number;
  refusedBySocket: number;
  handshakesMs: number[];
  failedHandshakes: number;
  medianHandshakeMs: number;
  ratioToNormal: number;
  tableMax: number;
  tableBound: number;
  rssMb: Record<string, { before: number; peak: number; after: number }>;
  counters: unknown;
}

async function main(): Promise<void> {
  const lab = createProtocolLab();
  const agents: AgentRun[] = [];
  process.once('SIGINT', () => {
    lab.destroy();
    process.exit(130);
  });
  try {
    const web = lab.daemon('origin', 'flood-web', ['python3', '-c', WEB_SERVER_PY, 'origin', '80,8080']);
    await web.waitFor('serving');
    agents.push(await lab.agent('replica', replicaConfig('A'), 'replica ready'));
    agents.push(await lab.agent('sw', switchConfig('origin', { rate: 200, burst: 400 }), 'server-switch ready'));
    const gwConfig = gatewayConfig('A') as { roles: { 'client-gateway': Record<string, unknown> } };
    const tableBound = 100_000;
    gwConfig.roles['client-gateway'].table = { maxEntries: tableBound };
    agents.push(await lab.agent('gw', gwConfig, 'client-gateway ready'));
    const pids = { gateway: agents[2].child.pid!, switch: agents[1].child.pid! };

    const normal = await handshakes(lab, HANDSHAKE_EVERY_MS, 4);
    const normalMs = percentile(normal.filter((x) => !Number.isNaN(x)), 50);
    log(`normal handshake: median ${normalMs.toFixed(3)} ms over ${normal.length}`);

    const phases: Phase[] = [];
    for (const target of ['gateway', 'switch'] as const) {
      // Gateway: from the client LAN (random hosts 10.61.1.20-.250). Switch: tagged SYNs from the rogue's WAN port,
      // sources in 198.18.0.0/15 (the benchmark range), which nobody routes back.
      const board = target === 'gateway' ? 'client' : 'rogue';
      const ifname = target === 'gateway' ? 'eth0' : 'wan0';
      const nextHop = target === 'gateway' ? macOf(lab, 'gw', 'lan0') : macOf(lab, 'sw', 'wan0');
      const syn = buildSegment({ src: '10.61.1.20', dst: ADDR.origin, srcPort: 1024, dstPort: 80, seq: 1, flags: TcpFlag.SYN, options: [2, 4, 5, 0xb4, 1, 1, 1, 253, 5, 0x53, 0x52, 1] });
      const template = Buffer.concat([nextHop, macOf(lab, board, ifname), Buffer.from([0x08, 0x00]), syn]);
      const tx = inNetns(lab.ns[board], () => openPacketSocket(ifname));
      const rss: Phase['rssMb'] = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, { before: rssMb(pid), peak: 0, after: 0 }]));
      let tableMax = 0;
      const sample = setInterval(() => {
        for (const [k, pid] of Object.entries(pids)) rss[k].peak = Math.max(rss[k].peak, rssMb(pid));
      }, 250);
      const tableSampler = setInterval(() => {
        try {
          const t = JSON.parse(lab.run('gw', ['curl', '-sf', '-H', `Authorization: Bearer ${CONTROL.token}`, `http://${CONTROL.address}:${CONTROL.port}/counters`])) as { 'client-gateway': { entries: number } };
          tableMax = Math.max(tableMax, t['client-gateway'].entries);
        } catch {
          // the control API answers late under the flood; the next sample counts
        }
      }, 1000);
      log(`${target}: flooding ${RATE} SYN/s for ${SECONDS} s`);
      const flooding = target === 'gateway' ? flood(tx, template, 0x0a010114, 230) : flood(tx, template, 0xc6120000, 0x20000);
      const probes = sleep(1000).then(() => handshakes(lab, HANDSHAKE_EVERY_MS, SECONDS - 2));
      const result = await flooding;
      const during = await probes;
      clearInterval(sample);
      clearInterval(tableSampler);
      tx.close();
      await sleep(1000);
      for (const [k, pid] of Object.entries(pids)) rss[k].after = rssMb(pid);
      const ok = during.filter((x) => !Number.isNaN(x));
      const median = percentile(ok, 50);
      const counters = JSON.parse(lab.run(target === 'gateway' ? 'gw' : 'sw', ['curl', '-sf', '-H', `Authorization: Bearer ${CONTROL.token}`, `http://${CONTROL.address}:${CONTROL.port}/counters`]));
      phases.push({
        target, sent: result.sent, refusedBySocket: result.refused, handshakesMs: during.map(round3), failedHandshakes: during.length - ok.length,
        medianHandshakeMs: round3(median), ratioToNormal: round3(median / normalMs), tableMax, tableBound, rssMb: rss, counters,
      });
      log(`${target}: ${result.sent} SYNs sent, handshakes during: median ${median.toFixed(3)} ms (${(median / normalMs).toFixed(2)}x), failed ${during.length - ok.length}, table max ${tableMax}`);
      await sleep(2000);
    }
    console.log(JSON.stringify({ rate: RATE, seconds: SECONDS, normalHandshakeMs: { median: round3(normalMs), samples: normal.map(round3) }, phases }, null, 2));
  } finally {
    for (const a of agents) await a.stop();
    lab.destroy();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
