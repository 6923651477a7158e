import { RACE_MODES, type AgentControlClient, type EntryDump, type RaceMode, type Via } from '@synrace/agents';
import { raceCandidates, type ModeOutcome, type SitePrediction, type Topology } from '@synrace/netem-profiles';
import { median } from './median';
import { candidateAddress, originAddress } from './provision/agent-config';
import { renderTable } from './table';

/**
 * What verify measures: each race mode with the gateways' winner caches off, and `cached`: the switch in the
 * lab's own race mode, the caches on and empty, so the first connection races and the later ones are cached.
 */
export const VERIFY_MODES = [...RACE_MODES, 'cached'] as const;
export type VerifyMode = (typeof VERIFY_MODES)[number];

/** One client connection of a verification run, from the client's side and from the gateway's table. */
export interface ObservedConnection { clientPort: number; servedBy: string | null; tableWinner: string | null; via: Via | null; handshakeMs: number; httpCode: number }

export interface SiteVerdict {
  clientSite: string;
  mode: VerifyMode;
  /** The race behind the connections: the mode itself, or for `cached` the race that fills the cache. */
  race: RaceMode;
  predicted: string;
  closest: string;
  /** The race's time for race modes; for `cached`, a direct handshake with the winner (its RTT). */
  predictedHandshakeMs: number;
  connections: ObservedConnection[];
  /** Every connection was served by, and bound in the gateway's table to, the predicted winner, the way the mode sends it. */
  ok: boolean;
}

/** How the i-th connection of a run in `mode` must have gone at the gateway. */
export function expectedVia(mode: VerifyMode, index: number): Via {
  return mode === 'cached' && index > 0 ? 'cache' : 'race';
}

export function connectionOk(c: ObservedConnection, index: number, v: Pick<SiteVerdict, 'mode' | 'predicted'>): boolean {
  return c.httpCode === 200 && c.servedBy === v.predicted && c.tableWinner === v.predicted && c.via === expectedVia(v.mode, index);
}

/** The predictor's outcome of a race mode at one client site. */
export function modeOutcome(prediction: SitePrediction, race: RaceMode): ModeOutcome {
  return prediction.modes.find((m) => m.mode === race)!;
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
export function parseCurlLoop(output: string): Omit<ObservedConnection, 'tableWinner' | 'via'>[] {
  const out: Omit<ObservedConnection, 'tableWinner' | 'via'>[] = [];
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

/** `race`: the switch's race mode during the connections (for `cached`, the lab's own). */
export function judgeSite(prediction: SitePrediction, mode: VerifyMode, race: RaceMode, observed: Omit<ObservedConnection, 'tableWinner' | 'via'>[], table: { entries: Pick<EntryDump, 'client' | 'winner' | 'via'>[] }, hostAddress: string, boards: Map<string, string>): SiteVerdict {
  const outcome = modeOutcome(prediction, race);
  const connections = observed.map((c) => {
    const entry = table.entries.find((e) => e.client === `${hostAddress}:${c.clientPort}`);
    return { ...c, tableWinner: entry?.winner ? (boards.get(entry.winner) ?? entry.winner) : null, via: entry?.via ?? null };
  });
  const judged = { mode, predicted: outcome.winner };
  const ok = connections.length > 0 && connections.every((c, i) => connectionOk(c, i, judged));
  const predictedHandshakeMs = mode === 'cached' ? outcome.cachedHandshakeMs : outcome.handshakeMs;
  return { clientSite: prediction.clientSite, mode, race, predicted: outcome.winner, closest: prediction.closest, predictedHandshakeMs, connections, ok };
}

/**
 * The lab's own timing noise, from the verdicts of this very run: twice the largest amount by which a race the
 * predicted winner won came in later than predicted (its median handshake). A predicted margin within it is a
 * coin toss on this host, not a wrong winner.
 */
export function measuredNoiseMs(verdicts: SiteVerdict[]): number {
  const excess = verdicts.filter((v) => v.ok && v.mode !== 'cached').map((v) => median(v.connections.map((c) => c.handshakeMs)) - v.predictedHandshakeMs);
  return 2 * Math.max(0, ...excess);
}

/** The verdicts that are wrong beyond the noise: a winner other than the predicted one where the margin exceeds it. */
export function missesBeyondNoise(verdicts: SiteVerdict[], predictions: SitePrediction[], noiseMs: number): SiteVerdict[] {
  return verdicts.filter((v) => !v.ok && modeOutcome(predictions.find((p) => p.clientSite === v.clientSite)!, v.race).marginMs > noiseMs);
}

/** A whole verify run: its noise, the misses beyond it (a failed run), and the near ties within it. */
export interface RunJudgement { noiseMs: number; misses: SiteVerdict[]; nearTies: SiteVerdict[] }

export function judgeRun(verdicts: SiteVerdict[], predictions: SitePrediction[]): RunJudgement {
  const noiseMs = measuredNoiseMs(verdicts);
  const misses = missesBeyondNoise(verdicts, predictions, noiseMs);
  return { noiseMs, misses, nearTies: verdicts.filter((v) => !v.ok && !misses.includes(v)) };
}

function viaSummary(v: SiteVerdict): string {
  const counts = new Map<string, number>();
  for (const c of v.connections) counts.set(c.via ?? 'no entry', (counts.get(c.via ?? 'no entry') ?? 0) + 1);
  return [...counts.entries()].map(([via, n]) => `${via} ${n}`).join(', ');
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
    v.mode === 'cached' ? `cached (${v.race})` : v.mode,
    v.predicted,
    observedSummary(v),
    viaSummary(v),
    v.closest,
    `${median(v.connections.map((c) => c.handshakeMs)).toFixed(1)} / ${v.predictedHandshakeMs.toFixed(1)}`,
    v.ok ? 'ok' : 'MISMATCH',
  ]);
  const table = renderTable(['client site', 'mode', 'predicted winner', 'observed winner', 'via', 'truly closest', 'handshake ms (measured / predicted)', 'verdict'], rows);
  const summary = VERIFY_MODES.map((mode) => {
    const of = verdicts.filter((v) => v.mode === mode);
    if (of.length === 0) return '';
    const closest = of.filter((v) => v.predicted === v.closest).length;
    // A cached run's first connection raced: its cost is the race's, not the cache's.
    const cost = median(of.flatMap((v) => v.connections.filter((_, i) => expectedVia(mode, i) === expectedVia(mode, 1)).map((c) => c.handshakeMs)));
    const label = mode === 'cached' ? 'cached connections' : `${mode} race`;
    return `${label}: picks the truly closest site for ${closest} of ${of.length} client sites; median handshake ${cost.toFixed(1)} ms`;
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
  observe?(prediction: SitePrediction, mode: VerifyMode): Promise<() => Promise<void>>;
  /** The switch's race mode in the lab's state: the race a cached run's first connection runs. */
  labRace: RaceMode;
}

/**
 * For every client site and mode: fresh connections to the origin's address, judged against the predictor.
 * Race modes run with the gateways' caches off (each connection must race); `cached` empties them first.
 * Every gateway's cache is left as it was found.
 */
export async function verifySelection(deps: VerifyDeps, modes: readonly VerifyMode[], connections: number): Promise<SiteVerdict[]> {
  const boards = candidateBoards(deps.topology);
  const url = `http://${originAddress(deps.topology)}/index.html`;
  const gateways = deps.predictions.map((p) => deps.gateway(p.gatewayBoard));
  const found = await Promise.all(gateways.map(async (g) => (await g.winnerCache())?.enabled ?? false));
  const setCaches = (on: (i: number) => boolean) => Promise.all(gateways.map((g, i) => g.setWinnerCache(on(i))));
  const verdicts: SiteVerdict[] = [];
  try {
    for (const mode of modes) {
      const race = mode === 'cached' ? deps.labRace : mode;
      await deps.switchAgent.setRaceMode(race);
      await setCaches(() => false);
      if (mode === 'cached') await setCaches(() => true);
      const perSite = await Promise.all(
        deps.predictions.map(async (p) => {
          const stopObserving = await deps.observe?.(p, mode);
          const output = await deps.runOnHost(p.hostBoard, curlLoop(url, connections));
          await stopObserving?.();
          const observed = parseCurlLoop(output);
          const table = await deps.gateway(p.gatewayBoard).table();
          return judgeSite(p, mode, race, observed, table, deps.hostAddress(p.hostBoard), boards);
        }),
      );
      verdicts.push(...perSite);
    }
  } finally {
    await setCaches((i) => found[i]);
  }
  return verdicts;
}
