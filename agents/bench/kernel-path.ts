// Issue #16's kernel path against kernel forwarding, on a path the CPU bounds: the agents' namespace lab
// (test/support/protocol-lab.ts), whose WAN is a kernel bridge with no delay line and whose links have their
// offloads off, so every byte crosses as full-sized packets. Per configuration A, B and C, downloads through
// the race with the agents' kernel paths on (gateway, and in C the replica's tunnel end) and off; once,
// downloads from the replica's own address with no gateway agent (kernel forwarding over the same wires and
// server). Prints one JSON document; progress on stderr.
// Run as root: node agents/dist/bench/kernel-path.js [MiB per download] [downloads per series]
import { readFileSync } from 'node:fs';
import type { AgentRun } from '../test/support/agent-process';
import { ADDR, CONTROL, createProtocolLab, gatewayConfig, replicaConfig, switchConfig, WEB_SERVER_PY, type Configuration, type ProtocolLab } from '../test/support/protocol-lab';
import { percentile, round3 } from './stats';

const MIB = Number(process.argv[2] ?? 200);
const DOWNLOADS = Number(process.argv[3] ?? 5);
const CONFIGURATIONS: Configuration[] = ['A', 'B', 'C'];
const CLOCK_TICK_MS = 10;

/** Asks the lab's web server for `bulk N` and reads the N bytes (and the newline), timing from the request. */
const DOWNLOAD_PY = `
import socket, sys, time
host, n = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, 80), timeout=60)
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
  mbPerSecond: number;
  runs: number[];
  /** The gateway agent's CPU (utime + stime) per MB over the series; null with the agent stopped. */
  gatewayCpuMsPerMB: number | null;
}

export interface KernelPathThroughput {
  mibPerDownload: number;
  downloadsPerSeries: number;
  kernelForwarding: KernelPathSeries;
  /** `carried`: the gateway's and the replica's kernelPath counters after the kernel path's series. */
  configurations: { configuration: Configuration; agentPath: KernelPathSeries; kernelPath: KernelPathSeries; carried: { gateway: unknown; replica: unknown } }[];
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
}

async function series(lab: ProtocolLab, host: string, label: string, gatewayPid: number | null, downloads: number): Promise<KernelPathSeries> {
  const bytes = MIB * 1024 * 1024;
  const runs: number[] = [];
  const cpuBefore = gatewayPid === null ? 0 : cpuMs(gatewayPid);
  for (let i = 0; i < downloads; i++) {
    const [got, seconds] = lab.run('client', ['python3', '-c', DOWNLOAD_PY, host, String(bytes)]).trim().split(' ').map(Number);
    if (got !== bytes + 1) throw new Error(`${label}: got ${got} of ${bytes + 1} bytes`);
    runs.push(bytes / 1e6 / seconds);
    log(`${label}, download ${i + 1}/${downloads}: ${runs[i].toFixed(1)} MB/s`);
  }
  const megabytes = (bytes * downloads) / 1e6;
  return {
    mbPerSecond: round3(percentile(runs, 50)),
    runs: runs.map(round3),
    gatewayCpuMsPerMB: gatewayPid === null ? null : round3((cpuMs(gatewayPid) - cpuBefore) / megabytes),
  };
}

function kernelPathCounters(lab: ProtocolLab, board: 'gw' | 'replica', role: string): unknown {
  const counters = JSON.parse(lab.run(board, ['curl', '-sf', '-H', `Authorization: Bearer ${CONTROL.token}`, `http://${CONTROL.address}:${CONTROL.port}/counters`]));
  return counters[role].kernelPath;
}

async function main(): Promise<void> {
  const lab = createProtocolLab();
  const agents: AgentRun[] = [];
  process.once('SIGINT', () => {
    lab.destroy();
    process.exit(130);
  });
  try {
    const origin = lab.daemon('origin', 'bulk-origin', ['python3', '-c', WEB_SERVER_PY, 'origin', '80']);
    const replica = lab.daemon('replica', 'bulk-replica', ['python3', '-c', WEB_SERVER_PY, 'replica', '80']);
    await origin.waitFor('serving');
    await replica.waitFor('serving');
    const configurations: KernelPathThroughput['configurations'] = [];
    /** Agents up with their kernel paths on or off; the warm-up download runs the agent's code past the JIT. */
    const through = async (configuration: Configuration, kernelPath: boolean): Promise<{ series: KernelPathSeries; carried: { gateway: unknown; replica: unknown } }> => {
      agents.push(await lab.agent('replica', replicaConfig(configuration, { kernelPath }), 'replica ready'));
      agents.push(await lab.agent('sw', switchConfig('replica'), 'server-switch ready'));
      const gateway = await lab.agent('gw', gatewayConfig(configuration, { kernelPath }), 'client-gateway ready');
      agents.push(gateway);
      const label = `${configuration}, kernel path ${kernelPath ? 'on' : 'off'}`;
      log(`${label}: warm-up download through the race`);
      await series(lab, ADDR.origin, `${label} warm-up`, null, 1);
      const measured = await series(lab, ADDR.origin, label, gateway.child.pid!, DOWNLOADS);
      const carried = { gateway: kernelPathCounters(lab, 'gw', 'client-gateway'), replica: kernelPathCounters(lab, 'replica', 'replica') };
      for (const a of agents.splice(0)) await a.stop();
      return { series: measured, carried };
    };
    for (const configuration of CONFIGURATIONS) {
      const kernelPath = await through(configuration, true);
      const agentPath = await through(configuration, false);
      configurations.push({ configuration, kernelPath: kernelPath.series, agentPath: agentPath.series, carried: kernelPath.carried });
    }
    agents.push(await lab.agent('replica', replicaConfig('A'), 'replica ready'));
    const kernelForwarding = await series(lab, ADDR.replica, 'kernel forwarding (no gateway agent)', null, DOWNLOADS);
    const result: KernelPathThroughput = { mibPerDownload: MIB, downloadsPerSeries: DOWNLOADS, kernelForwarding, configurations };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    for (const a of agents) await a.stop();
    lab.destroy();
  }
}

void main().catch((err: Error) => {
  log(err.stack ?? err.message);
  process.exit(1);
});
