// What one packet costs an agent, stage by stage, as the gateway's per-packet path spends it: parse the
// headers, look the connection up in the translation table, rewrite an address with the incremental
// checksum update, send a packet through a raw socket, and wake up for a packet that arrives while the
// agent is idle. Issue 16 asks for this profile before and after any change to the path.
// Run as root: node agents/dist/bench/packet-stages.js. Prints one JSON object on stdout; progress on stderr.
import { spawn } from 'node:child_process';
import { monotonicNs } from '../src/io/clock';
import { openPacketSocket } from '../src/io/packet-socket';
import { setDst } from '../src/packet';
import { PacketParser } from '../src/protocol/packet-parser';
import { RawSender } from '../src/protocol/raw-sender';
import { Counters } from '../src/protocol/counters';
import type { ConnectionKey } from '../src/table/connection-key';
import { TranslationTable } from '../src/table/translation-table';
import { buildSegment, ip } from '../test/fixtures/packet-helpers';
import { inNetns } from '../test/support/netns';
import { createWanTopology, run, type WanTopology } from '../test/support/wan-topology';
import { percentile, round3 } from './stats';

const ITERATIONS = 1_000_000;
const SENDS = 100_000;
const TABLE_ENTRIES = 10_000;
const WAKEUPS = 200;
const WAKE_INTERVAL_S = 0.02;
const MSS_PAYLOAD = Buffer.alloc(1448);

export interface PacketStages {
  /** Mean per packet, in-process, over ITERATIONS (SENDS for send). */
  parseUs: number;
  tableUs: number;
  checksumUs: number;
  sendUs: number;
  /** Kernel receive timestamp to the callback, for packets 20 ms apart (the agent idle in between). */
  wakeMedianUs: number;
  wakeP99Us: number;
  wakeMaxUs: number;
}

function meanUs(count: number, run: () => void): number {
  const began = process.hrtime.bigint();
  run();
  return round3(Number(process.hrtime.bigint() - began) / 1000 / count);
}

function inProcessStages(): Pick<PacketStages, 'parseUs' | 'tableUs' | 'checksumUs'> {
  const segment = buildSegment({ src: '10.4.0.10', dst: '10.10.0.80', flags: 0x10, payload: MSS_PAYLOAD });
  const parser = new PacketParser();
  let kinds = 0;
  const parseUs = meanUs(ITERATIONS, () => {
    for (let i = 0; i < ITERATIONS; i++) if (parser.parse(segment) === 'tcp') kinds++;
  });
  if (kinds !== ITERATIONS) throw new Error('the segment did not parse as TCP');

  const table = new TranslationTable({ maxEntries: TABLE_ENTRIES });
  const key: ConnectionKey = { clientIp: 0, clientPort: 0, serverIp: ip('10.10.0.80'), serverPort: 80 };
  for (let i = 0; i < TABLE_ENTRIES; i++) {
    key.clientIp = 0x0a040000 + i;
    key.clientPort = 1024 + i;
    table.getOrCreatePending(key, i, 0);
  }
  let found = 0;
  const tableUs = meanUs(ITERATIONS, () => {
    for (let i = 0; i < ITERATIONS; i++) {
      const n = (i * 7919) % TABLE_ENTRIES;
      key.clientIp = 0x0a040000 + n;
      key.clientPort = 1024 + n;
      if (table.get(key)) found++;
    }
  });
  if (found !== ITERATIONS) throw new Error('a table lookup missed');

  parser.parse(segment);
  const replicas = [ip('10.255.0.31'), ip('10.10.0.80')];
  const checksumUs = meanUs(ITERATIONS, () => {
    for (let i = 0; i < ITERATIONS; i++) setDst(segment, parser.ip, replicas[i & 1]);
  });
  return { parseUs, tableUs, checksumUs };
}

/** Raw sends from end a to end b's address, and packets from a child `ping` in a to b's packet socket. */
async function socketStages(topo: WanTopology): Promise<Pick<PacketStages, 'sendUs' | 'wakeMedianUs' | 'wakeP99Us' | 'wakeMaxUs'>> {
  const [a, b] = topo.ends;
  const counters = new Counters();
  const sender = inNetns(a.ns, () => new RawSender(counters));
  const packet = buildSegment({ src: '10.77.0.1', dst: '10.77.0.2', flags: 0x10, payload: MSS_PAYLOAD });
  // b's link-layer address resolved first: sends waiting for it would be dropped, not sent.
  run('ip', ['netns', 'exec', a.ns, 'ping', '-q', '-c', '1', '-W', '2', '10.77.0.2']);
  let sendUs: number;
  try {
    sendUs = meanUs(SENDS, () => {
      for (let i = 0; i < SENDS; i++) sender.send(packet, ip('10.77.0.2'));
    });
  } finally {
    sender.close();
  }
  if (Object.keys(counters.toJSON()).length > 0) throw new Error(`sends refused: ${JSON.stringify(counters.toJSON())}`);

  const socket = inNetns(b.ns, () => openPacketSocket(b.ifname));
  const lateUs: number[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      socket.onFrame((frame, rxNs) => {
        // ICMP echo requests only (ethertype IPv4, protocol 1, type 8).
        if (frame.readUInt16BE(12) !== 0x0800 || frame[23] !== 1 || frame[34] !== 8) return;
        lateUs.push((monotonicNs() - rxNs) / 1000);
        if (lateUs.length === WAKEUPS) resolve();
      });
      const ping = spawn('ip', ['netns', 'exec', a.ns, 'ping', '-q', '-i', String(WAKE_INTERVAL_S), '-c', String(WAKEUPS + 5), '10.77.0.2'], { stdio: 'ignore' });
      ping.once('exit', (code) => (lateUs.length < WAKEUPS ? reject(new Error(`ping ended (${code}) after ${lateUs.length} of ${WAKEUPS} packets`)) : undefined));
    });
  } finally {
    socket.close();
  }
  return { sendUs, wakeMedianUs: round3(percentile(lateUs, 50)), wakeP99Us: round3(percentile(lateUs, 99)), wakeMaxUs: round3(percentile(lateUs, 100)) };
}

async function main(): Promise<void> {
  process.stderr.write(`packet stages: parse, table and checksum, ${ITERATIONS.toLocaleString('en')} packets each\n`);
  const inProcess = inProcessStages();
  process.stderr.write(`packet stages: ${SENDS.toLocaleString('en')} raw sends, ${WAKEUPS} wakeups ${WAKE_INTERVAL_S * 1000} ms apart\n`);
  let topo: WanTopology | undefined;
  process.once('SIGINT', () => {
    topo?.destroy();
    process.exit(130);
  });
  try {
    // Two ends whose veth ports a bridge in the WAN namespace joins: a send crosses a link and a bridge
    // into the other end, as an agent's sends cross its board's link into the lab's WAN.
    topo = createWanTopology('stages', [{ name: 'a', cidr: '10.77.0.1/24' }, { name: 'b', cidr: '10.77.0.2/24' }]);
    const wan = topo.wanNs;
    for (const args of [['link', 'add', 'br0', 'type', 'bridge'], ...topo.ends.map((e) => ['link', 'set', e.port, 'master', 'br0']), ['link', 'set', 'br0', 'up']]) {
      run('ip', ['-n', wan, ...args]);
    }
    const sockets = await socketStages(topo);
    console.log(JSON.stringify({ ...inProcess, ...sockets } satisfies PacketStages, null, 2));
  } finally {
    topo?.destroy();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
