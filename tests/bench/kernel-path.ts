import type { KernelPathSeries, KernelPathThroughput } from '@synrace/agents/bench';
import { renderTable } from '@synrace/orchestrator';
import { agentBenchmarkSection } from './agent-benchmark';

function render(r: KernelPathThroughput): string {
  const forwarding = r.kernelForwarding.mbPerSecond;
  const row = (configuration: string, path: string, s: KernelPathSeries) => [
    configuration, path, s.mbPerSecond.toFixed(1), s.runs.map((x) => x.toFixed(1)).join(', '), (s.mbPerSecond / forwarding).toFixed(2), s.gatewayCpuMsPerMB?.toFixed(2) ?? '',
  ];
  return [
    `${r.mibPerDownload} MiB downloads, median of ${r.downloadsPerSeries} after a warm-up, MB = 10^6 bytes; the agents' namespace lab: no delay line, offloads off, so the CPU bounds every download.`,
    'Path kernel: the agents decide the race and tcx classifiers carry the connection (in C at both ends of the tunnel). Path agent: the agents\' kernel paths off.',
    'Kernel forwarding: no gateway agent, the replica\'s own address, the same wires and server. Gateway CPU: its agent\'s utime + stime over the series.',
    '',
    renderTable(['configuration', 'path', 'MB/s', 'runs', 'of kernel forwarding', 'gateway CPU ms/MB'], [
      ['-', 'kernel forwarding', forwarding.toFixed(1), r.kernelForwarding.runs.map((x) => x.toFixed(1)).join(', '), '1.00', ''],
      ...r.configurations.flatMap((c) => [row(c.configuration, 'kernel', c.kernelPath), row(c.configuration, 'agent', c.agentPath)]),
    ]),
  ].join('\n');
}

export const kernelPath = agentBenchmarkSection<KernelPathThroughput>('kernel-path', 'kernel-path', 'The kernel path against kernel forwarding on a CPU-bound path', 'configurations A, B and C', render);
