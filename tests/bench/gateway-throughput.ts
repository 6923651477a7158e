import { percentile } from '@synrace/agents/bench';
import { addressOf, findBoard, interfaceOn, predict, type SitePrediction } from '@synrace/netem-profiles';
import { originAddress, type Lab } from '@synrace/orchestrator';
import { onBoard } from './board-command';
import { download, type Download } from './download';
import { sampleGatewayLoad, type GatewayLoad } from './gateway-load';
import type { BenchContext } from './section';
import { webRootOf } from './web-root';

const BLOB_PATH = '/static/blob-50m.bin';
export const BLOB_MIB = 50;
const BLOB_BYTES = BLOB_MIB * 1024 * 1024;
/** Counted downloads per series, each series after a warm-up: the median rate is reported, and the gateway's cost spans all of them. */
export const DOWNLOADS = 3;

export interface DownloadSeries {
  /** Median of the runs; MB = 10^6 bytes. */
  mbPerSecond: number;
  runs: Download[];
}

/** The client site whose race a replica wins: the gateway translates (A), takes spoofed packets (B) or tunnels (C). */
export interface ReplicaPath {
  clientSite: string;
  host: string;
  gateway: string;
  winner: string;
  raceMs: number;
  rttMs: number;
  /** At the origin's address: through the race. */
  raceUrl: string;
  /** At the winner's own address: the same wires and web server without a race, for kernel forwarding. */
  directUrl: string;
}

export interface GatewayCost {
  agentPid: number;
  /** From /proc/<pid>/stat utime + stime, in clock ticks (usually 10 ms each). */
  cpuMs: number;
  /** Received on each data interface during the downloads: every one of them went through the agent. */
  packets: Record<string, number>;
  usPerPacket: number;
  cpuMsPerMB: number;
  /** Per counted download: the spread that a difference between configurations must exceed. */
  cpuMsPerMBRuns: number[];
}

/** Downloads through the race with the gateway's connections carried one way, and what they cost its agent. */
export interface CarriedSeries extends DownloadSeries {
  gatewayCost: GatewayCost;
}

export interface LabThroughput {
  path: ReplicaPath;
  fileBytes: number;
  /** Kernel path off: the agent gives every segment its verdict. */
  agentPath: CarriedSeries;
  /** Kernel path on: the agent decides the race, tcx classifiers carry the rest; or why it could not be measured. */
  kernelPath: CarriedSeries | { error: string };
  /** Only when asked for: the path does not depend on the configuration. */
  gatewayAgentStopped?: DownloadSeries;
}

/** Among the sites a replica wins, the quickest race: a short run, and the least delay-line time on the path. */
function quickestReplicaRace(predictions: SitePrediction[]): { site: SitePrediction; raceMs: number; rttMs: number } {
  const won = predictions
    .map((site) => ({ site, timing: site.candidates.find((c) => c.board === site.winner)! }))
    .filter(({ timing }) => timing.kind === 'replica')
    .sort((a, b) => a.timing.raceMs - b.timing.raceMs);
  if (won.length === 0) throw new Error('no client site of this lab has a replica as its race winner, so no connection is translated or tunnelled');
  return { site: won[0].site, raceMs: won[0].timing.raceMs, rttMs: won[0].timing.rttMs };
}

function replicaPath(lab: Lab): ReplicaPath {
  const { topology, profile } = lab.inputs();
  const { site, raceMs, rttMs } = quickestReplicaRace(predict(topology, profile));
  const winnerAddress = addressOf(interfaceOn(findBoard(topology, site.winner)!, 'wan')!.address);
  return {
    clientSite: site.clientSite,
    host: site.hostBoard,
    gateway: site.gatewayBoard,
    winner: site.winner,
    raceMs,
    rttMs,
    raceUrl: `http://${originAddress(topology)}${BLOB_PATH}`,
    directUrl: `http://${winnerAddress}${BLOB_PATH}`,
  };
}

/**
 * Not counted: the first download after bring-up runs the agent's code before the JIT optimised it. The
 * kernel series gets one as well, so that both start alike.
 */
async function warmUp(context: BenchContext, lab: Lab, host: string, url: string, label: string): Promise<void> {
  context.progress.step(`${label}, warm-up download`);
  await download(lab, host, url, BLOB_BYTES);
}

/** A series whose numbers describe another path than the one named is worse than none. */
async function downloads(context: BenchContext, lab: Lab, host: string, url: string, servedBy: string, label: string, afterEach = async () => {}): Promise<DownloadSeries> {
  const runs: Download[] = [];
  for (let i = 1; i <= DOWNLOADS; i++) {
    const run = await download(lab, host, url, BLOB_BYTES);
    if (run.servedBy !== servedBy) throw new Error(`${label}: ${url} was served by ${run.servedBy ?? 'nobody named'}, not ${servedBy}`);
    runs.push(run);
    await afterEach();
    context.progress.step(`${label}, download ${i}/${DOWNLOADS}: ${run.mbPerSecond.toFixed(1)} MB/s`);
  }
  return { mbPerSecond: percentile(runs.map((r) => r.mbPerSecond), 50), runs };
}

/** `loads` holds a sample before the first run and one after each. */
function gatewayCost(agentPid: number, loads: GatewayLoad[], runs: Download[]): GatewayCost {
  const first = loads[0];
  const last = loads[loads.length - 1];
  const packets = Object.fromEntries(Object.keys(first.rxPackets).map((i) => [i, last.rxPackets[i] - first.rxPackets[i]]));
  const total = Object.values(packets).reduce((a, b) => a + b, 0);
  const cpuMs = last.cpuMs - first.cpuMs;
  const megabytes = runs.reduce((sum, r) => sum + r.bytes, 0) / 1e6;
  return {
    agentPid,
    cpuMs,
    packets,
    usPerPacket: (cpuMs * 1000) / total,
    cpuMsPerMB: cpuMs / megabytes,
    cpuMsPerMBRuns: runs.map((r, i) => (loads[i + 1].cpuMs - loads[i].cpuMs) / (r.bytes / 1e6)),
  };
}

/**
 * Leaves the gateway's packets to the kernel: the agent, stopped by SIGTERM, removes its steering chain on
 * the way out. It is not started again: the lab is the caller's own and goes down next.
 */
async function stopGatewayAgent(context: BenchContext, lab: Lab, gateway: string, pid: number, label: string): Promise<void> {
  context.progress.step(`${label}: stopping the agent on ${gateway} (pid ${pid} on the board)`);
  await onBoard(
    lab,
    gateway,
    `kill -TERM ${pid}
     for i in $(seq 100); do [ -d /proc/${pid} ] || break; sleep 0.1; done
     if [ -d /proc/${pid} ]; then echo 'the agent still runs 10 s after SIGTERM' >&2; exit 1; fi
     if iptables -w -t mangle -S | grep -q SYNRACE; then echo 'the agent left its steering rules behind' >&2; exit 1; fi`,
  );
}

/**
 * Downloads through the race with agents on, the gateway's kernel path off and then on, costing the gateway
 * agent per download; then, if asked, stops that agent for good and downloads from the winner's own address,
 * which only the kernel forwards. The file goes away with the lab's run directory.
 */
export async function measureGatewayThroughput(context: BenchContext, lab: Lab, label: string, withKernelBaseline: boolean): Promise<LabThroughput> {
  const path = replicaPath(lab);
  const gateway = findBoard(lab.inputs().topology, path.gateway)!;
  const interfaces = [interfaceOn(gateway, 'lan')!.name, interfaceOn(gateway, 'wan')!.name];
  context.progress.step(`${label}: ${BLOB_MIB} MiB file on ${path.winner}, the race winner for ${path.clientSite}; downloads on ${path.host}`);
  await onBoard(lab, path.winner, `head -c ${BLOB_MIB}M /dev/urandom > ${webRootOf(lab, path.winner)}${BLOB_PATH}`, 60_000);
  const { pid } = await lab.agent(path.gateway).health();
  const sampleLoad = () => sampleGatewayLoad(lab, path.gateway, pid, interfaces);

  const carried = async (kernelPath: boolean): Promise<CarriedSeries> => {
    const seriesLabel = `${label}, through the race, kernel path ${kernelPath ? 'on' : 'off'}`;
    await lab.agent(path.gateway).setKernelPath(kernelPath);
    await warmUp(context, lab, path.host, path.raceUrl, seriesLabel);
    const loads = [await sampleLoad()];
    const series = await downloads(context, lab, path.host, path.raceUrl, path.winner, seriesLabel, async () => {
      loads.push(await sampleLoad());
    });
    return { ...series, gatewayCost: gatewayCost(pid, loads, series.runs) };
  };
  const agentPath = await carried(false);
  const kernelPath = await carried(true).catch((err: Error) => {
    if (context.signal.aborted) throw err;
    return { error: err.message };
  });
  const result: LabThroughput = { path, fileBytes: agentPath.runs[0].bytes, agentPath, kernelPath };
  if (!withKernelBaseline) return result;

  await stopGatewayAgent(context, lab, path.gateway, pid, label);
  await warmUp(context, lab, path.host, path.directUrl, `${label}, gateway agent stopped`);
  return { ...result, gatewayAgentStopped: await downloads(context, lab, path.host, path.directUrl, path.winner, `${label}, gateway agent stopped`) };
}
