import type { Configuration } from '@synrace/agents';
import { LabNotDownError, renderTable, withLab } from '@synrace/orchestrator';
import { claimVerdict, type ClaimVerdict } from './claim-verdict';
import { BLOB_MIB, DOWNLOADS, measureGatewayThroughput, type CarriedSeries, type DownloadSeries, type GatewayCost, type LabThroughput } from './gateway-throughput';
import type { BenchContext, BenchSection } from './section';

const CONFIGURATIONS: Configuration[] = ['A', 'B', 'C'];
/**
 * The kernel baseline (the winner's own address, gateway agent stopped) crosses the same wires and nginx in
 * every configuration, so it is measured once, where no agent touches it: B's replica would still spoof that
 * address's replies as the server's.
 */
const KERNEL_BASELINE_IN: Configuration = 'A';

type Measured = { configuration: Configuration } & LabThroughput;
type ConfigurationThroughput = Measured | { configuration: Configuration; error: string };

interface ThroughputReport {
  configurations: ConfigurationThroughput[];
  /** Through the race over the kernel baseline, per configuration and path, where both were measured. */
  ratios: Partial<Record<Configuration, { agentPath: number; kernelPath?: number }>>;
  verdict: ClaimVerdict;
}

const kernelPathOf = (c: Measured): CarriedSeries | undefined => ('error' in c.kernelPath ? undefined : c.kernelPath);

const measuredOnes = (configurations: ConfigurationThroughput[]): Measured[] => configurations.filter((c): c is Measured => !('error' in c));
const kernelLab = (measured: Measured[]): Measured | undefined => measured.find((c) => c.configuration === KERNEL_BASELINE_IN && c.gatewayAgentStopped);

/** A configuration that fails (its lab does not come up, say) is reported as such; the others still run. */
async function measureConfiguration(context: BenchContext, configuration: Configuration): Promise<ConfigurationThroughput> {
  const label = `throughput ${configuration}`;
  context.progress.step(`${label}: bringing up the world lab in configuration ${configuration}`);
  try {
    const { value } = await withLab({ name: `bench-throughput-${configuration.toLowerCase()}`, configuration }, context.signal, (lab) => measureGatewayThroughput(context, lab, label, configuration === KERNEL_BASELINE_IN));
    return { configuration, ...value };
  } catch (err) {
    if (context.signal.aborted || err instanceof LabNotDownError) throw err;
    context.progress.step(`${label} failed: ${(err as Error).message}`);
    return { configuration, error: (err as Error).message };
  }
}

async function measure(context: BenchContext): Promise<ThroughputReport> {
  const configurations: ConfigurationThroughput[] = [];
  for (const configuration of CONFIGURATIONS) configurations.push(await measureConfiguration(context, configuration));
  const measured = measuredOnes(configurations);
  const kernel = kernelLab(measured)?.gatewayAgentStopped;
  const ratioOf = (c: Measured, k: DownloadSeries) => {
    const carried = kernelPathOf(c);
    return { agentPath: c.agentPath.mbPerSecond / k.mbPerSecond, ...(carried ? { kernelPath: carried.mbPerSecond / k.mbPerSecond } : {}) };
  };
  const ratios = Object.fromEntries(kernel ? measured.map((c) => [c.configuration, ratioOf(c, kernel)]) : []);
  // The claim is about the agent's own per-packet work: measured where it gives every segment its verdict.
  const costs = Object.fromEntries(measured.map((c) => [c.configuration, c.agentPath.gatewayCost]));
  return { configurations, ratios, verdict: claimVerdict(costs) };
}

const rate = (s: DownloadSeries): string => s.runs.map((r) => r.mbPerSecond.toFixed(1)).join(', ');

function render({ configurations, ratios, verdict }: ThroughputReport): string {
  const measured = measuredOnes(configurations);
  const baseline = kernelLab(measured);
  const kernel = baseline?.gatewayAgentStopped;
  const costCells = (g: GatewayCost) => [`${g.cpuMsPerMB.toFixed(2)} (${Math.min(...g.cpuMsPerMBRuns).toFixed(2)}-${Math.max(...g.cpuMsPerMBRuns).toFixed(2)})`, g.usPerPacket.toFixed(2)];
  const rows = configurations.flatMap((c) => {
    if ('error' in c) return [[c.configuration, `FAILED: ${c.error}`, '', '', '', '', '', '']];
    const site = `${c.path.clientSite} -> ${c.path.winner}`;
    const ratio = ratios[c.configuration];
    const carried = kernelPathOf(c);
    return [
      [c.configuration, site, 'agent', c.agentPath.mbPerSecond.toFixed(1), kernel?.mbPerSecond.toFixed(1) ?? 'n/a', ratio?.agentPath.toFixed(2) ?? 'n/a', ...costCells(c.agentPath.gatewayCost)],
      carried
        ? [c.configuration, site, 'kernel', carried.mbPerSecond.toFixed(1), kernel?.mbPerSecond.toFixed(1) ?? 'n/a', ratio?.kernelPath?.toFixed(2) ?? 'n/a', ...costCells(carried.gatewayCost)]
        : [c.configuration, site, 'kernel', `FAILED: ${'error' in c.kernelPath ? c.kernelPath.error : ''}`, '', '', '', ''],
    ];
  });
  const details = measured.flatMap((c) =>
    [{ carriedBy: 'agent', series: c.agentPath }, { carriedBy: 'kernel', series: kernelPathOf(c) }].flatMap(({ carriedBy, series }) => {
      if (!series) return [];
      const g = series.gatewayCost;
      const packets = Object.entries(g.packets).map(([i, n]) => `${i} rx ${n}`).join(', ');
      return [`  ${c.configuration}, ${carriedBy} path: ${c.path.host} -> ${c.path.gateway} -> ${c.path.winner} (race ${c.path.raceMs} ms, RTT ${c.path.rttMs} ms), ${c.path.raceUrl}; runs ${rate(series)} MB/s; gateway agent pid ${g.agentPid}: ${g.cpuMs.toFixed(0)} CPU ms for ${packets}`];
    }),
  );
  return [
    `${BLOB_MIB} MiB downloads on the client host of the site with the quickest race that a replica wins; median of ${DOWNLOADS} after a warm-up, MB = 10^6 bytes.`,
    `Path agent: the gateway's kernel path off, its agent gives every segment a verdict. Path kernel: the agent decides the race and tcx classifiers carry the connection's segments.`,
    `Gateway CPU: its agent's utime + stime (clock-tick resolution) over the ${DOWNLOADS} downloads; in brackets the range per download. µs/packet: per packet received on its lan and wan interfaces.`,
    '',
    renderTable(['configuration', 'site -> winner', 'path', 'MB/s through the race', 'MB/s kernel forwarding', 'ratio', 'gateway CPU ms/MB', 'µs/packet'], rows),
    '',
    ...details,
    baseline && kernel
      ? `  kernel (in ${KERNEL_BASELINE_IN}'s lab, gateway agent stopped): ${baseline.path.directUrl}, the winner's own address, so the same wires and nginx without a race; runs ${rate(kernel)} MB/s`
      : '  kernel: not measured',
    '',
    verdict.text,
  ].join('\n');
}

export const throughput: BenchSection = {
  name: 'throughput',
  title: `Throughput of a ${BLOB_MIB} MiB download through a client gateway in configurations A, B and C, and the gateway's CPU cost`,
  needs: 'host',
  async run(context) {
    const result = await measure(context);
    return { result, text: render(result) };
  },
};
