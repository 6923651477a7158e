import type { TableDump } from '@synrace/agents';
import { boardsWithRole, compileTcTree, renderTcScript } from '@synrace/netem-profiles';
import type { Lab } from '../lab';
import type { LabState } from '../labs/lab-state';
import { judgedRttMs, type RttSample } from '../delays/rtt';
import { calibratedProfile, describeCalibration } from '../delays/calibration';
import { renderTable } from '../table';

export async function boardTable(lab: Lab, state: LabState): Promise<string> {
  const { topology } = lab.inputs();
  const rows = await Promise.all(
    state.boards.map(async (b) => {
      const board = topology.boards.find((x) => x.name === b.name)!;
      const on = await lab.backend().power(b).isOn();
      return [b.name, b.site, b.roles.join(','), b.mgmtAddress, board.interfaces.map((i) => `${i.name} ${i.address}`).join(', '), on ? 'on' : 'off'];
    }),
  );
  return renderTable(['board', 'site', 'roles', 'management', 'interfaces', 'power'], rows);
}

function ms(v: number | null): string {
  return v === null ? 'lost' : v.toFixed(1);
}

/** Rows are client sites, columns destination sites; each cell is "measured / profile" round trip in ms. */
export function rttMatrix(samples: RttSample[]): string {
  const froms = [...new Set(samples.map((s) => s.from))];
  const tos = [...new Set(samples.map((s) => s.to))];
  const rows = froms.map((from) => [from, ...tos.map((to) => {
    const s = samples.find((x) => x.from === from && x.to === to);
    return s ? `${ms(judgedRttMs(s))} / ${s.expectedMs.toFixed(1)}` : '-';
  })]);
  const measured = samples[0]?.statistic === 'floor' ? 'measured floor (fastest; the WAN is external)' : 'measured median';
  return `RTT in ms, ${measured} / profile d(a->b)+d(b->a):\n${renderTable(['from \\ to', ...tos], rows)}`;
}

export function netemShow(lab: Lab): { data: unknown; text: string } {
  const state = lab.state();
  const { topology, profile } = lab.inputs();
  const calibration = state.delay.calibration;
  const set = calibratedProfile(profile, calibration);
  const paths = profile.paths.map((p, i) => [p.from, p.to, p.delayMs.toFixed(1), ...(calibration ? [set.paths[i].delayMs.toFixed(1)] : []), p.jitterMs.toFixed(1), p.lossPct.toFixed(2), p.rateMbit ?? '-']);
  const headers = ['from', 'to', 'delay ms', ...(calibration ? ['netem ms'] : []), 'jitter ms', 'loss %', 'rate Mbit'];
  let text = `delay mode: ${state.delay.mode} (${state.delay.probe})\nprofile: ${profile.name} (${profile.source})\n${calibration ? `${describeCalibration(calibration)}\n` : ''}\n${renderTable(headers, paths)}`;
  const trees: Record<string, string> = {};
  if (state.delay.mode === 'kernel-netem') {
    for (const b of topology.boards.filter((x) => x.interfaces.some((i) => i.network === 'wan'))) {
      trees[b.name] = renderTcScript(compileTcTree(topology, set, b.name, { netem: true }));
      text += `\n\n# ${b.name}\n${trees[b.name]}`;
    }
  }
  return { data: { mode: state.delay.mode, probe: state.delay.probe, profile: profile.name, paths: profile.paths, tcTrees: trees, calibration }, text };
}

/**
 * A client gateway's translation table, one row per connection: how it started (`via`), which path carries
 * it (`agent` or `kernel`) and what the kernel carried each way; then the kernel path's totals. Undefined
 * when the board is no client gateway of the lab.
 */
export async function gatewayTable(lab: Lab, board: string): Promise<{ data: unknown; text: string } | undefined> {
  if (!boardsWithRole(lab.inputs().topology, 'client-gateway').some((b) => b.name === board)) return undefined;
  const agent = lab.agent(board);
  const [table, counters]: [TableDump, Record<string, unknown>] = await Promise.all([agent.table(), agent.counters().then((c) => (c['client-gateway'] ?? {}) as Record<string, unknown>)]);
  const rows = table.entries.map((e) => [
    e.client, e.server, e.state, e.winner ?? '-', e.via, e.path, e.path === 'kernel' || e.kernelPackets.toServer > 0 ? `${e.kernelPackets.toServer} / ${e.kernelPackets.toClient}` : '-', (e.idleMs / 1000).toFixed(1),
  ]);
  const kernelPath = counters.kernelPath;
  const text = [
    `${board}: ${table.size} of ${table.maxEntries} entries`,
    renderTable(['client', 'server', 'state', 'winner', 'via', 'path', 'kernel packets to server / to client', 'idle s'], rows),
    `kernel path: ${kernelPathTotals(kernelPath)}`,
  ].join('\n');
  return { data: { board, table, kernelPath }, text };
}

/** The gateway's kernelPath counters in a line: its state, or what it carries and why connections left it. */
function kernelPathTotals(kernelPath: unknown): string {
  if (typeof kernelPath !== 'object' || kernelPath === null) return String(kernelPath ?? 'not reported');
  const k = kernelPath as {
    on: boolean; flows: number; closing: number; carried: number; mapRefusals: number; left: Record<string, number>; lateResets: number; tagging: boolean; startsTagged: number;
    cachedStarts: boolean; startsCached: number; racing: number; racesWon: number;
  };
  const left = Object.entries(k.left).filter(([, n]) => n > 0).map(([why, n]) => `${why} ${n}`).join(', ') || 'none';
  return `${k.on ? 'on' : 'switched off'}, carrying ${k.flows} now (${k.closing} more closing in the agent), ${k.carried} in all; left it: ${left}; `
    + `start packets tagged there: ${k.startsTagged}${k.tagging ? '' : ' (not now: the agent tags them)'}, `
    + `sent there to a cached winner (A): ${k.startsCached}${k.cachedStarts ? '' : ' (not now)'}; `
    + `races won there (A): ${k.racesWon}, ${k.racing} pending now; `
    + `late answers reset there: ${k.lateResets}${k.mapRefusals ? `; refused by the map: ${k.mapRefusals}` : ''}`;
}
