import { percentile } from '@synrace/agents/dist/bench/stats';
import { findBoard, interfaceOn, predict, type SitePrediction } from '@synrace/netem-profiles';
import { originAddress, type Lab } from '@synrace/orchestrator';
import { onBoard } from './board-command';
import { download, type Download } from './download';
import { sampleGatewayLoad, type GatewayLoad } from './gateway-load';
import type { BenchContext, BenchSection } from './section';
import { webRootOf } from './web-root';

const BLOB_PATH = '/static/blob-50m.bin';
const BLOB_MIB = 50;
const BLOB_BYTES = BLOB_MIB * 1024 * 1024;
/** Counted downloads per configuration, each series after a warm-up: the median rate is reported, and the gateway's cost spans all of them. */
const DOWNLOADS = 3;
const AGENT_HEALTH_TIMEOUT_MS = 15_000;

interface DownloadSeries {
  /** Median of the runs; MB = 10^6 bytes. */
  mbPerSecond: number;
  runs: Download[];
}

interface Throughput {
  clientSite: string;
  host: string;
  gateway: string;
  winner: string;
  url: string;
  fileBytes: number;
  withAgents: DownloadSeries;
  gatewayAgentStopped: DownloadSeries;
  /** Agents on over agents off. */
  ratio: number;
}

interface GatewayCost {
  gateway: string;
  agentPid: number;
  /** From /proc/<pid>/stat utime + stime, in clock ticks (usually 10 ms each). */
  cpuMs: number;
  /** Received on each data interface during the downloads: every one of them went through the agent. */
  packets: Record<string, number>;
  usPerPacket: number;
  cpuMsPerMB: number;
}

/** The site whose race is quickest: a short run, and the path with the least delay-line time in it. */
function quickestRace(predictions: SitePrediction[]): SitePrediction {
  const raceMs = (p: SitePrediction) => p.candidates.find((c) => c.board === p.winner)!.raceMs;
  return [...predictions].sort((a, b) => raceMs(a) - raceMs(b))[0];
}

/** Not counted: the first download after bring-up runs the agent's code before the JIT optimised it. */
async function warmUp(context: BenchContext, lab: Lab, host: string, url: string, label: string): Promise<void> {
  context.progress.step(`throughput: ${label}, warm-up download`);
  await download(lab, host, url, BLOB_BYTES);
}

async function downloads(context: BenchContext, lab: Lab, host: string, url: string, label: string): Promise<DownloadSeries> {
  const runs: Download[] = [];
  for (let i = 1; i <= DOWNLOADS; i++) {
    runs.push(await download(lab, host, url, BLOB_BYTES));
    context.progress.step(`throughput: ${label}, download ${i}/${DOWNLOADS}: ${runs[i - 1].mbPerSecond.toFixed(1)} MB/s`);
  }
  return { mbPerSecond: percentile(runs.map((r) => r.mbPerSecond), 50), runs };
}

/**
 * Runs work with the gateway's packets left to the kernel: the agent, stopped by SIGTERM, removes its
 * steering rules on the way out. A power cycle boots the gateway as provisioned again, leaving the lab as found.
 */
async function withGatewayAgentStopped<T>(context: BenchContext, lab: Lab, gateway: string, pid: number, work: () => Promise<T>): Promise<T> {
  context.progress.step(`throughput: stopping the agent on ${gateway} (pid ${pid}; boards share the host's process table, so by pid)`);
  await onBoard(
    lab,
    gateway,
    `kill -TERM ${pid}
     for i in $(seq 100); do [ -d /proc/${pid} ] || break; sleep 0.1; done
     if [ -d /proc/${pid} ]; then echo 'the agent still runs 10 s after SIGTERM' >&2; exit 1; fi
     if iptables -w -S | grep -q SYNRACE; then echo 'the agent left its steering rules behind' >&2; exit 1; fi`,
  );
  try {
    return await work();
  } finally {
    context.progress.step(`throughput: power-cycling ${gateway} to start its agent again`);
    await lab.power(gateway, 'cycle');
    await lab.agent(gateway).waitHealthy(AGENT_HEALTH_TIMEOUT_MS);
  }
}

function gatewayCost(gateway: string, agentPid: number, before: GatewayLoad, after: GatewayLoad, bytes: number): GatewayCost {
  const packets = Object.fromEntries(Object.keys(before.rxPackets).map((i) => [i, after.rxPackets[i] - before.rxPackets[i]]));
  const total = Object.values(packets).reduce((a, b) => a + b, 0);
  const cpuMs = after.cpuMs - before.cpuMs;
  return { gateway, agentPid, cpuMs, packets, usPerPacket: (cpuMs * 1000) / total, cpuMsPerMB: cpuMs / (bytes / 1e6) };
}

async function measure(context: BenchContext, lab: Lab): Promise<{ throughput: Throughput; gatewayCost: GatewayCost }> {
  const { topology, profile } = lab.inputs();
  const site = quickestRace(predict(topology, profile));
  const gateway = findBoard(topology, site.gatewayBoard)!;
  const interfaces = [interfaceOn(gateway, 'lan')!.name, interfaceOn(gateway, 'wan')!.name];
  const url = `http://${originAddress(topology)}${BLOB_PATH}`;
  const blob = `${webRootOf(lab, site.winner)}${BLOB_PATH}`;
  context.progress.step(`throughput: ${BLOB_MIB} MiB file on ${site.winner}, the race winner for ${site.clientSite}; downloads on ${site.hostBoard}`);
  await onBoard(lab, site.winner, `head -c ${BLOB_MIB}M /dev/urandom > ${blob}`, 60_000);
  try {
    const { pid } = await lab.agent(gateway.name).get<{ pid: number }>('/health');
    await warmUp(context, lab, site.hostBoard, url, 'agents on');
    const before = await sampleGatewayLoad(lab, gateway.name, pid, interfaces);
    const withAgents = await downloads(context, lab, site.hostBoard, url, 'through the race, agents on');
    const after = await sampleGatewayLoad(lab, gateway.name, pid, interfaces);
    const gatewayAgentStopped = await withGatewayAgentStopped(context, lab, gateway.name, pid, async () => {
      await warmUp(context, lab, site.hostBoard, url, 'gateway agent stopped');
      return downloads(context, lab, site.hostBoard, url, 'gateway agent stopped');
    });
    const bytes = withAgents.runs.reduce((sum, r) => sum + r.bytes, 0);
    return {
      throughput: {
        clientSite: site.clientSite,
        host: site.hostBoard,
        gateway: gateway.name,
        winner: site.winner,
        url,
        fileBytes: withAgents.runs[0].bytes,
        withAgents,
        gatewayAgentStopped,
        ratio: withAgents.mbPerSecond / gatewayAgentStopped.mbPerSecond,
      },
      gatewayCost: gatewayCost(gateway.name, pid, before, after, bytes),
    };
  } finally {
    await onBoard(lab, site.winner, `rm -f ${blob}`);
  }
}

function render({ throughput: t, gatewayCost: g }: { throughput: Throughput; gatewayCost: GatewayCost }): string {
  const series = (s: DownloadSeries) => `${s.mbPerSecond.toFixed(1)} MB/s (runs: ${s.runs.map((r) => r.mbPerSecond.toFixed(1)).join(', ')}; served by ${[...new Set(s.runs.map((r) => r.servedBy ?? 'none'))].join(', ')})`;
  return [
    `${t.host} -> ${t.gateway} -> race winner ${t.winner} (client site ${t.clientSite}), ${t.url}, ${t.fileBytes} bytes, median of ${DOWNLOADS}, MB = 10^6 bytes`,
    `  through the race, configuration A, agents on:   ${series(t.withAgents)}`,
    `  gateway agent stopped (kernel forwarding there): ${series(t.gatewayAgentStopped)}`,
    `  ratio agents on / off: ${t.ratio.toFixed(2)}`,
    '',
    `Gateway cost (agent on ${g.gateway}, pid ${g.agentPid}, over the ${DOWNLOADS} agents-on downloads)`,
    `  CPU ${g.cpuMs.toFixed(0)} ms (utime + stime, clock-tick resolution) for ${Object.values(g.packets).reduce((a, b) => a + b, 0)} packets (${Object.entries(g.packets).map(([i, n]) => `${i} rx ${n}`).join(', ')})`,
    `  ${g.usPerPacket.toFixed(2)} µs per packet, ${g.cpuMsPerMB.toFixed(2)} CPU ms per MB downloaded`,
  ].join('\n');
}

export const throughput: BenchSection = {
  name: 'throughput',
  title: `Throughput of a ${BLOB_MIB} MiB download through the client gateway, and the gateway's cost per packet`,
  needs: 'world-lab',
  async run(context, lab) {
    const result = await measure(context, lab);
    return { result, text: render(result) };
  },
};
