// Issue #16's kernel path against kernel forwarding, on a path the CPU bounds: the agents' namespace lab
// (test/support/protocol-lab.ts), whose WAN is a kernel bridge with no delay line and whose links have their
// offloads off, so every byte crosses as full-sized packets. Per configuration A, B and C, with the agents'
// kernel paths on (the gateway's, and the replica's in B and C) and then off: downloads through the race
// (the origin's address, port 80), each followed by one the kernel forwards over the same wires from the
// same server (the replica's own address, on a port no agent steers). The pairs share the host's moment,
// so their ratio is steadier than either rate. Prints one JSON document; progress on stderr.
// Run as root: node agents/dist/bench/kernel-path.js [MiB per download] [pairs per series]
import { readFileSync } from 'node:fs';
import type { AgentRun } from '../test/support/agent-process';
import { ADDR, CONTROL, createProtocolLab, gatewayConfig, replicaConfig, switchConfig, WEB_SERVER_PY, type Configuration, type ProtocolLab } from '../test/support/protocol-lab';
import { percentile, round3 } from './stats';

const MIB = Number(process.argv[2] ?? 200);
const PAIRS = Number(process.argv[3] ?? 5);
const CONFIGURATIONS: Configuration[] = ['A', 'B', 'C'];
const CLOCK_TICK_MS = 10;
/** Not a web port: no agent's steering takes it, and no classifier's map holds it. */
const FORWARDED_PORT = 9000;

/** Asks the lab's web server for `bulk N` and reads the N bytes (and the newline), timing from the request. */
const DOWNLOAD_PY = `
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection((host, port), timeout=60)
f = s.makefile('rb')
f.readline()
t = time.monotonic()
s.sendall(b'bulk %d\\n' % n)
buf = bytearray(1 << 20)
view = memoryview(buf)
got = 0
while got < n + 1:
    k = s.recv_into(view)
    if k == 0: break
    got += k
print('%d %.6f' % (got, time.monotonic() - t), flush=True)
`;

const log = (m: string): void => void process.stderr.write(`${m}\n`);

export interface KernelPathSeries {
  /** Medians, MB = 10^6 bytes. */
  raceMbPerSecond: number;
  forwardedMbPerSecond: number;
  /** Median over the pairs of race / forwarded. */
  ratio: number;
  pairs: { race: number; forwarded: number }[];
  /** The gateway agent's CPU (utime + stime) per MB through the race. */
  gatewayCpuMsPerMB: number;
  /** The gateway's and the replica's kernelPath counters at the end. */
  kernelPath: { gateway: unknown; replica: unknown };
}

export interface KernelPathThroughput {
  mibPerDownload: number;
  pairsPerSeries: number;
  configurations: { configuration: Configuration; kernelPath: KernelPathSeries; agentPath: KernelPathSeries }[];
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
}

function download(lab: ProtocolLab, host: string, port: number): number {
  const bytes = MIB * 1024 * 1024;
  const [got, seconds] = lab.run('client', ['python3', '-c', DOWNLOAD_PY, host, String(port), String(bytes)]).trim().split(' ').map(Number);
  if (got !== bytes + 1) throw new Error(`${host}:${port}: got ${got} of ${bytes + 1} bytes`);
  return bytes / 1e6 / seconds;
}

function kernelPathCounters(lab: ProtocolLab, board: 'gw' | 'replica', role: string): unknown {
  const counters = JSON.parse(lab.run(board, ['curl', '-sf', '-H', `Authorization: Bearer ${CONTROL.token}`, `http://${CONTROL.address}:${CONTROL.port}/counters`]));
  return counters[role].kernelPath;
}

/** Agents up with their kernel paths on or off; a first pair, not counted, runs the agents' code past the JIT. */
async function series(lab: ProtocolLab, configuration: Configuration, kernelPath: boolean): Promise<KernelPathSeries> {
  const agents: AgentRun[] = [];
  try {
    agents.push(await lab.agent('replica', replicaConfig(configuration, { kernelPath }), 'replica ready'));
    agents.push(await lab.agent('sw', switchConfig('replica'), 'server-switch ready'));
    const gateway = await lab.agent('gw', gatewayConfig(configuration, { kernelPath }), 'client-gateway ready');
    agents.push(gateway);
    const label = `${configuration}, kernel path ${kernelPath ? 'on' : 'off'}`;
    download(lab, ADDR.origin, 80);
    download(lab, ADDR.replica, FORWARDED_PORT);
    const pairs: KernelPathSeries['pairs'] = [];
    let raceCpuMs = 0;
    for (let i = 0; i < PAIRS; i++) {
      const before = cpuMs(gateway.child.pid!);
      const race = download(lab, ADDR.origin, 80);
      raceCpuMs += cpuMs(gateway.child.pid!) - before;
      const forwarded = download(lab, ADDR.replica, FORWARDED_PORT);
      pairs.push({ race: round3(race), forwarded: round3(forwarded) });
      log(`${label}, pair ${i + 1}/${PAIRS}: through the race ${race.toFixed(1)} MB/s, forwarded ${forwarded.toFixed(1)} MB/s (${(race / forwarded).toFixed(2)})`);
    }
    return {
      raceMbPerSecond: round3(percentile(pairs.map((p) => p.race), 50)),
      forwardedMbPerSecond: round3(percentile(pairs.map((p) => p.forwarded), 50)),
      ratio: round3(percentile(pairs.map((p) => p.race / p.forwarded), 50)),
      pairs,
      gatewayCpuMsPerMB: round3(raceCpuMs / ((MIB * 1024 * 1024 * PAIRS) / 1e6)),
      kernelPath: { gateway: kernelPathCounters(lab, 'gw', 'client-gateway'), replica: kernelPathCounters(lab, 'replica', 'replica') },
    };
  } finally {
    for (const a of agents) await a.stop();
  }
}

async function main(): Promise<void> {
  const lab = createProtocolLab();
  process.once('SIGINT', () => {
    lab.destroy();
    process.exit(130);
  });
  try {
    const origin = lab.daemon('origin', 'bulk-origin', ['python3', '-c', WEB_SERVER_PY, 'origin', '80']);
    const replica = lab.daemon('replica', 'bulk-replica', ['python3', '-c', WEB_SERVER_PY, 'replica', `80,${FORWARDED_PORT}`]);
    await origin.waitFor('serving');
    await replica.waitFor('serving');
    const configurations: KernelPathThroughput['configurations'] = [];
    for (const configuration of CONFIGURATIONS) {
      const kernelPath = await series(lab, configuration, true);
      const agentPath = await series(lab, configuration, false);
      configurations.push({ configuration, kernelPath, agentPath });
    }
    const result: KernelPathThroughput = { mibPerDownload: MIB, pairsPerSeries: PAIRS, configurations };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    lab.destroy();
  }
}

void main().catch((err: Error) => {
  log(err.stack ?? err.message);
  process.exit(1);
});
