// What one packet costs an agent, stage by stage, as the gateway's per-packet path spends it: parse the
// headers, look the connection up in the translation table, rewrite an address with the incremental
// checksum update, send a packet through a raw socket, and wake up for a packet that arrives while the
// agent is idle. Issue 16 asks for this profile before and after any change to the path. The wake-up is
// also measured in C (native/wake-floor.c) on the same kind of socket: what the machine charges any idle
// process, against which the agent's own share of its wake-up shows.
// Run as root: node agents/dist/bench/packet-stages.js. Prints one JSON object on stdout; progress on stderr.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
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
const WAKE_FLOOR = join(__dirname, '..', 'native', 'wake-floor');

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
  /** The same wake-ups received by a C program (native/wake-floor.c) instead of the agent's runtime. */
  floorWakeMedianUs: number;
  floorWakeP99Us: number;
  floorWakeMaxUs: number;
}

type WakeFigures = { medianUs: number; p99Us: number; maxUs: number };

function wakeFigures(lateUs: number[]): WakeFigures {
  return { medianUs: round3(percentile(lateUs, 50)), p99Us: round3(percentile(lateUs, 99)), maxUs: round3(percentile(lateUs, 100)) };
}

/** WAKEUPS echo requests WAKE_INTERVAL_S apart from namespace `from` to 10.77.0.2; rejects if ping ends before `enough`. */
function pingSlowly(from: string, enough: () => boolean): { done: Promise<void>; stop: () => void } {
  const ping = spawn('ip', ['netns', 'exec', from, 'ping', '-q', '-i', String(WAKE_INTERVAL_S), '-c', String(WAKEUPS + 5), '10.77.0.2'], { stdio: 'ignore' });
  const done = new Promise<void>((resolve, reject) => {
    ping.once('exit', (code) => (enough() ? resolve() : reject(new Error(`ping ended (${code}) before ${WAKEUPS} packets arrived`))));
  });
  return { done, stop: () => ping.kill() };
}

/** The wake-ups of a C receiver on b's interface: the machine's share, with no runtime in it. */
async function floorWakeups(topo: WanTopology): Promise<WakeFigures> {
  const [a, b] = topo.ends;
  const receiver = spawn('ip', ['netns', 'exec', b.ns, WAKE_FLOOR, b.ifname, String(WAKEUPS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exited = false;
  receiver.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const finished = new Promise<number | null>((resolve) =>
    receiver.once('exit', (code) => {
      exited = true;
      resolve(code);
    }),
  );
  await new Promise<void>((resolve, reject) => {
    receiver.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('ready')) resolve();
    });
    receiver.once('exit', (code) => reject(new Error(`${WAKE_FLOOR} ended (${code}) before it was ready: ${stderr.trim()}`)));
  });
  const ping = pingSlowly(a.ns, () => exited);
  let code: number | null;
  try {
    code = await Promise.race([finished, ping.done.then(() => finished)]);
  } finally {
    ping.stop();
    receiver.kill();
  }
  if (code !== 0) throw new Error(`${WAKE_FLOOR} exited ${code}: ${stderr.trim()}`);
  return wakeFigures((JSON.parse(stdout) as { lateUs: number[] }).lateUs);
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
  let ping: { stop: () => void } | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      socket.onFrame((frame, rxNs) => {
        // ICMP echo requests only (ethertype IPv4, protocol 1, type 8).
        if (frame.readUInt16BE(12) !== 0x0800 || frame[23] !== 1 || frame[34] !== 8) return;
        lateUs.push((monotonicNs() - rxNs) / 1000);
        if (lateUs.length === WAKEUPS) resolve();
      });
      const slowly = pingSlowly(a.ns, () => lateUs.length >= WAKEUPS);
      slowly.done.catch(reject);
      ping = slowly;
    });
  } finally {
    // Its last echo requests would otherwise reach the C receiver measured next.
    ping?.stop();
    socket.close();
  }
  const wake = wakeFigures(lateUs);
  return { sendUs, wakeMedianUs: wake.medianUs, wakeP99Us: wake.p99Us, wakeMaxUs: wake.maxUs };
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
    process.stderr.write(`packet stages: the same ${WAKEUPS} wakeups, received in C\n`);
    const floor = await floorWakeups(topo);
    const floorStages = { floorWakeMedianUs: floor.medianUs, floorWakeP99Us: floor.p99Us, floorWakeMaxUs: floor.maxUs };
    console.log(JSON.stringify({ ...inProcess, ...sockets, ...floorStages } satisfies PacketStages, null, 2));
  } finally {
    topo?.destroy();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
