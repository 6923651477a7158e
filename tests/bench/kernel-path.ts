import type { KernelPathSeries, KernelPathThroughput } from '@synrace/agents/bench';
import { renderTable } from '@synrace/orchestrator';
import { agentBenchmarkSection } from './agent-benchmark';

const RATIO_BAR = 0.9;

function render(r: KernelPathThroughput): string {
  const row = (configuration: string, path: string, s: KernelPathSeries) => [
    configuration, path, s.raceMbPerSecond.toFixed(1), s.forwardedMbPerSecond.toFixed(1), s.ratio.toFixed(2),
    s.pairs.map((p) => (p.race / p.forwarded).toFixed(2)).join(', '), s.gatewayCpuMsPerMB.toFixed(2),
  ];
  const verdict = (c: KernelPathThroughput['configurations'][number]) =>
    `  ${c.configuration}: the kernel path at ${c.kernelPath.ratio.toFixed(2)} of kernel forwarding (the agent path at ${c.agentPath.ratio.toFixed(2)}): ${c.kernelPath.ratio >= RATIO_BAR ? 'met' : 'not met'}`;
  return [
    `${r.mibPerDownload} MiB downloads in the agents' namespace lab (no delay line, offloads off: the CPU bounds every download), ${r.pairsPerSeries} pairs per series after one not counted.`,
    `Each pair: a download through the race (the origin's address), then one the kernel forwards from the same server over the same wires (the replica's own address, a port no agent steers).`,
    'Path kernel: the agents decide the race and tcx classifiers carry the connection (the gateway; the replica in B and C). Path agent: their kernel paths off.',
    'MB/s are medians; ratio: the median of the pairs\' ratios. Gateway CPU: its agent\'s utime + stime per MB through the race.',
    '',
    renderTable(['configuration', 'path', 'MB/s race', 'MB/s forwarded', 'ratio', 'pairs', 'gateway CPU ms/MB'],
      r.configurations.flatMap((c) => [row(c.configuration, 'kernel', c.kernelPath), row(c.configuration, 'agent', c.agentPath)])),
    '',
    `Issue 16's bar, the kernel path at >= ${RATIO_BAR} of kernel forwarding on a CPU-bound path:`,
    ...r.configurations.map(verdict),
  ].join('\n');
}

export const kernelPath = agentBenchmarkSection<KernelPathThroughput>('kernel-path', 'kernel-path', 'The kernel path against kernel forwarding on a CPU-bound path', 'configurations A, B and C', render);
