import { addressOf, oneWayDelay, type DelayProfile, type Topology } from '@synrace/netem-profiles';
import type { SshShell } from '@synrace/hardware';

/**
 * Which of a path's round trips is held against the profile: the median for delays the lab makes itself; for a
 * WAN outside the lab (`--delay external`), its floor, the fastest round trip, since what a busy host adds on top
 * of a WAN is not the WAN's, while a WAN with other delays than the profile's shows in its floor too.
 */
export type RttStatistic = 'median' | 'floor';

export interface RttSample { from: string; to: string; target: string; expectedMs: number; medianMs: number | null; minMs: number | null; statistic: RttStatistic; received: number; sent: number }

/** A site is pinged at a host behind its router when it has one, so the path crosses the site's gateway too. */
export function pingTargetOf(topology: Topology, site: string): string {
  const boards = topology.boards.filter((b) => b.site === site);
  const lanOnly = boards.find((b) => b.interfaces.every((i) => i.network === 'lan'));
  const iface = (lanOnly ?? boards[0]).interfaces.find((i) => lanOnly || i.network === 'wan')!;
  return addressOf(iface.address);
}

export function clientSites(topology: Topology): { site: string; host: string }[] {
  return topology.boards.filter((b) => b.roles.includes('client-host')).map((b) => ({ site: b.site, host: b.name }));
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Parses `ping` output lines prefixed with their target by the measuring script. */
export function parsePingLines(output: string, target: string): { times: number[]; sent: number } {
  const mine = output.split('\n').filter((l) => l.startsWith(`${target} `));
  const times = mine.map((l) => /time=([\d.]+) ms/.exec(l)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]));
  const sent = Number(/(\d+) packets transmitted/.exec(mine.join('\n'))?.[1] ?? 0);
  return { times, sent };
}

/** Pings every other site from one client host, all targets at once, and compares with the profile's directed delays. */
export async function measureRttFrom(shell: SshShell, topology: Topology, profile: DelayProfile, fromSite: string, count: number, statistic: RttStatistic): Promise<RttSample[]> {
  const targets = topology.sites.filter((s) => s.name !== fromSite).map((s) => ({ site: s.name, address: pingTargetOf(topology, s.name) }));
  const script = targets.map((t) => `(ping -n -c ${count} -i 0.05 -W 3 ${t.address} 2>&1 | sed 's/^/${t.address} /') &`).join('\n') + '\nwait\n';
  const { stdout } = await shell.exec(script, { timeoutMs: 60_000 });
  return targets.map((t) => {
    const { times, sent } = parsePingLines(stdout, t.address);
    return {
      from: fromSite,
      to: t.site,
      target: t.address,
      expectedMs: oneWayDelay(profile, fromSite, t.site) + oneWayDelay(profile, t.site, fromSite),
      medianMs: median(times),
      minMs: times.length ? Math.min(...times) : null,
      statistic,
      received: times.length,
      sent,
    };
  });
}

/**
 * A path measured again: the later round's median and counts, and the fastest round trip of both rounds. A busy
 * host only ever adds to a round trip, so the lower floor is the path's, as calibration keeps it.
 */
export function measuredAgain(earlier: RttSample, later: RttSample): RttSample {
  const floors = [earlier.minMs, later.minMs].filter((ms): ms is number => ms !== null);
  return { ...later, minMs: floors.length ? Math.min(...floors) : null };
}

/** The round trip the sample is judged by. */
export function judgedRttMs(sample: RttSample): number | null {
  return sample.statistic === 'floor' ? sample.minMs : sample.medianMs;
}

/** The tolerance the lab promises: max(1 ms, 5 %) of the profile's round trip. */
export function withinTolerance(sample: RttSample): boolean {
  const ms = judgedRttMs(sample);
  return ms !== null && Math.abs(ms - sample.expectedMs) <= Math.max(1, 0.05 * sample.expectedMs);
}
