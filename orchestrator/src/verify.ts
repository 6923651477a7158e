import type { AgentControlClient, EntryDump, RaceMode } from '@synrace/agents';
import { raceCandidates, type SitePrediction, type Topology } from '@synrace/netem-profiles';
import { candidateAddress, originAddress } from './provision/agent-config';
import { renderTable } from './table';

/** One client connection of a verification run, from the client's side and from the gateway's table. */
export interface ObservedConnection { clientPort: number; servedBy: string | null; tableWinner: string | null; handshakeMs: number; httpCode: number }

export interface SiteVerdict {
  clientSite: string;
  mode: RaceMode;
  predicted: string;
  closest: string;
  predictedHandshakeMs: number;
  connections: ObservedConnection[];
  /** Every connection was served by, and bound in the gateway's table to, the predicted winner. */
  ok: boolean;
}

/** Maps a candidate's address (what the gateway's table names) to its board. */
export function candidateBoards(topology: Topology): Map<string, string> {
  return new Map(raceCandidates(topology).map((b) => [candidateAddress(topology, b), b.name]));
}

/** The shell loop a client host runs: fresh connections, one result line each. */
export function curlLoop(url: string, count: number): string {
  return `for i in $(seq ${count}); do curl -s -m 5 -o /dev/null -D - -w 'result %{local_port} %{time_connect} %{http_code}\\n' ${url} | tr -d '\\r' | grep -iE '^(x-served-by|result)'; done`;
}

/** Parses the loop's output: an optional X-Served-By line, then its result line, per connection. */
export function parseCurlLoop(output: string): Omit<ObservedConnection, 'tableWinner'>[] {
  const out: Omit<ObservedConnection, 'tableWinner'>[] = [];
  let servedBy: string | null = null;
  for (const line of output.split('\n')) {
    const served = /^x-served-by:\s*(\S+)/i.exec(line);
    if (served) servedBy = served[1];
    const result = /^result (\d+) ([\d.]+) (\d+)/.exec(line);
    if (result) {
      out.push({ clientPort: Number(result[1]), handshakeMs: Number(result[2]) * 1000, httpCode: Number(result[3]), servedBy });
      servedBy = null;
    }
  }
  return out;
}

export function judgeSite(prediction: SitePrediction, mode: RaceMode, observed: Omit<ObservedConnection, 'tableWinner'>[], table: { entries: Pick<EntryDump, 'client' | 'winner'>[] }, hostAddress: string, boards: Map<string, string>): SiteVerdict {
  const predicted = mode === 'plain' ? prediction.winner : prediction.syncWinner;
  const timing = prediction.candidates.find((c) => c.board === predicted)!;
  const connections = observed.map((c) => {
    const winner = table.entries.find((e) => e.client === `${hostAddress}:${c.clientPort}`)?.winner;
    return { ...c, tableWinner: winner ? (boards.get(winner) ?? winner) : null };
  });
  const ok = connections.length > 0 && connections.every((c) => c.httpCode === 200 && c.servedBy === predicted && c.tableWinner === predicted);
  return { clientSite: prediction.clientSite, mode, predicted, closest: prediction.closest, predictedHandshakeMs: mode === 'plain' ? timing.raceMs : timing.syncRaceMs, connections, ok };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function observedSummary(v: SiteVerdict): string {
  const counts = new Map<string, number>();
  for (const c of v.connections) {
    const who = c.servedBy === c.tableWinner ? (c.servedBy ?? 'none') : `${c.servedBy ?? 'none'}/table:${c.tableWinner ?? 'none'}`;
    counts.set(who, (counts.get(who) ?? 0) + 1);
  }
  return [...counts.entries()].map(([who, n]) => `${who} ${n}/${v.connections.length}`).join(', ');
}

export function renderVerdicts(verdicts: SiteVerdict[]): string {
  const rows = verdicts.map((v) => [
    v.clientSite,
    v.mode,
    v.predicted,
    observedSummary(v),
    v.closest,
    `${median(v.connections.map((c) => c.handshakeMs)).toFixed(1)} / ${v.predictedHandshakeMs.toFixed(1)}`,
    v.ok ? 'ok' : 'MISMATCH',
  ]);
  const table = renderTable(['client site', 'race', 'predicted winner', 'observed winner', 'truly closest', 'handshake ms (measured / predicted)', 'verdict'], rows);
  const summary = (['plain', 'synchronized'] as RaceMode[]).map((mode) => {
    const of = verdicts.filter((v) => v.mode === mode);
    if (of.length === 0) return '';
    const closest = of.filter((v) => v.predicted === v.closest).length;
    const cost = median(of.flatMap((v) => v.connections.map((c) => c.handshakeMs)));
    return `${mode} race: picks the truly closest site for ${closest} of ${of.length} client sites; median handshake ${cost.toFixed(1)} ms`;
  });
  return [table, '', ...summary.filter(Boolean)].join('\n');
}

export interface VerifyDeps {
  topology: Topology;
  predictions: SitePrediction[];
  switchAgent: AgentControlClient;
  gateway(board: string): AgentControlClient;
  runOnHost(host: string, command: string): Promise<string>;
  hostAddress(host: string): string;
  /** Called before a site's connections; the function it returns after them (e.g. a packet capture). */
  observe?(prediction: SitePrediction, mode: RaceMode): Promise<() => Promise<void>>;
}

/** For every client site and race mode: fresh connections to the origin's address, judged against the predictor. */
export async function verifySelection(deps: VerifyDeps, modes: RaceMode[], connections: number): Promise<SiteVerdict[]> {
  const boards = candidateBoards(deps.topology);
  const url = `http://${originAddress(deps.topology)}/index.html`;
  const verdicts: SiteVerdict[] = [];
  for (const mode of modes) {
    await deps.switchAgent.setRaceMode(mode);
    const perSite = await Promise.all(
      deps.predictions.map(async (p) => {
        const stopObserving = await deps.observe?.(p, mode);
        const output = await deps.runOnHost(p.hostBoard, curlLoop(url, connections));
        await stopObserving?.();
        const observed = parseCurlLoop(output);
        const table = await deps.gateway(p.gatewayBoard).table();
        return judgeSite(p, mode, observed, table, deps.hostAddress(p.hostBoard), boards);
      }),
    );
    verdicts.push(...perSite);
  }
  return verdicts;
}
