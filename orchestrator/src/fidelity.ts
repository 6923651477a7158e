// How faithful the predictor is beyond the shipped labs: seeded random labs (random topology, planar delays over
// detoured routes, satellite downlinks, a client site that is also a replica site), each brought up as a lab of
// its own, every client site making fresh connections in every mode. A miss is judged by its margin against the
// lab's own measured timing noise: within it, the predictor named a coin toss, not a wrong winner.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RaceMode } from '@synrace/agents';
import { oneWayDelay, predict, randomLab, type CandidateTiming, type DelayProfile, type RandomLabSite, type SitePrediction, type Topology } from '@synrace/netem-profiles';
import type { LabUpOptions } from './lab';
import { withLab } from './lab-session';
import { median } from './median';
import { Progress } from './progress';
import { renderTable } from './table';
import { measuredNoiseMs, VERIFY_MODES, type SiteVerdict, type VerifyMode } from './verify';

export interface FidelityOptions {
  /** The first geography's seed; the others follow it (seed, seed + 1, ...). */
  seed: number;
  geographies: number;
  /** Fresh connections per client site and mode. */
  connections: number;
  configuration: NonNullable<LabUpOptions['configuration']>;
}

/** A connection that was not served by the predicted winner. */
export interface FidelityMiss {
  seed: number;
  clientSite: string;
  mode: VerifyMode;
  predicted: string;
  observed: string | null;
  /** How much later the observed board's answer was predicted to come than the winner's (its race's times). */
  marginMs: number;
  beyondNoise: boolean;
}

/** One client site in one mode. */
export interface SiteFidelity {
  clientSite: string;
  mode: VerifyMode;
  predicted: string;
  closest: string;
  /** The candidate with the smallest one-way delay toward the client site: what a synchronized race should pick. */
  lowestDownlink: string;
  /** The predicted winner's margin over the runner-up. */
  marginMs: number;
  /** Who served each connection. */
  servedBy: (string | null)[];
  /** Each handshake minus a direct one with the truly closest site (its RTT in the profile); cached: all but the racing first. */
  costMs: number[];
}

export interface GeographyFidelity {
  seed: number;
  lab: string;
  sites: RandomLabSite[];
  /** Twice the largest excess of a matched race's median handshake over its prediction: how late an answer can come. */
  noiseMs: number;
  checks: SiteFidelity[];
  misses: FidelityMiss[];
}

export interface ModeFidelity {
  mode: VerifyMode;
  connections: number;
  wonByPredicted: number;
  wonByClosest: number;
  onLowestDownlink: number;
  medianCostMs: number;
  missesBeyondNoise: number;
}

export interface FidelityResult {
  seed: number;
  geographies: GeographyFidelity[];
  modes: ModeFidelity[];
  misses: FidelityMiss[];
  /** Connections of sites whose predicted margin exceeds their lab's noise, and how many of them the predicted winner served. */
  decisive: { connections: number; onPredicted: number };
  /**
   * Synchronized and cached connections of sites whose race margin (the gap between the two lowest downlinks)
   * exceeds their lab's noise, and how many of them the lowest-downlink site served.
   */
  downlinkDecisive: { connections: number; onLowestDownlink: number };
}

const roundMs = (ms: number): number => Math.round(ms * 1000) / 1000;

const RACE_TIME: Record<RaceMode, (t: CandidateTiming) => number> = { plain: (t) => t.raceMs, synchronized: (t) => t.syncRaceMs, bounded: (t) => t.boundedRaceMs };

/** A cached run's first connection races; the cached ones after it are what the mode is about. */
const cachedOnes = <T>(v: SiteVerdict, xs: T[]): T[] => (v.mode === 'cached' ? xs.slice(1) : xs);

function lowestDownlink(prediction: SitePrediction, profile: DelayProfile): string {
  // A stable sort keeps candidate order on ties: the predictor's tie-break.
  return [...prediction.candidates].sort((a, b) => oneWayDelay(profile, a.site, prediction.clientSite) - oneWayDelay(profile, b.site, prediction.clientSite))[0].board;
}

/** Judges one lab's verdicts against the predictor; the noise comes from the matched races of this very run. */
export function judgeGeography(seed: number, lab: string, sites: RandomLabSite[], topology: Topology, profile: DelayProfile, verdicts: SiteVerdict[]): GeographyFidelity {
  const predictions = predict(topology, profile);
  const noiseMs = roundMs(measuredNoiseMs(verdicts));
  const misses: FidelityMiss[] = [];
  const checks = verdicts.map((v): SiteFidelity => {
    const prediction = predictions.find((p) => p.clientSite === v.clientSite)!;
    const time = RACE_TIME[v.race];
    const timeOf = (board: string | null) => {
      const candidate = prediction.candidates.find((c) => c.board === board);
      return candidate ? time(candidate) : Infinity;
    };
    const directMs = prediction.candidates.find((c) => c.board === prediction.closest)!.rttMs;
    for (const c of v.connections.filter((c) => c.servedBy !== v.predicted)) {
      const marginMs = roundMs(timeOf(c.servedBy) - timeOf(v.predicted));
      misses.push({ seed, clientSite: v.clientSite, mode: v.mode, predicted: v.predicted, observed: c.servedBy, marginMs, beyondNoise: !(marginMs <= noiseMs) });
    }
    return {
      clientSite: v.clientSite,
      mode: v.mode,
      predicted: v.predicted,
      closest: prediction.closest,
      lowestDownlink: lowestDownlink(prediction, profile),
      marginMs: prediction.modes.find((m) => m.mode === v.race)!.marginMs,
      servedBy: v.connections.map((c) => c.servedBy),
      costMs: cachedOnes(v, v.connections).map((c) => roundMs(c.handshakeMs - directMs)),
    };
  });
  return { seed, lab, sites, noiseMs, checks, misses };
}

/** The modes that rank candidates by their downlink alone: the synchronized race, and the cache it fills. */
const DOWNLINK_MODES: VerifyMode[] = ['synchronized', 'cached'];

const connectionsOf = (checks: SiteFidelity[]): number => checks.reduce((n, s) => n + s.servedBy.length, 0);

export function summariseFidelity(seed: number, geographies: GeographyFidelity[]): FidelityResult {
  const checks = geographies.flatMap((g) => g.checks);
  const misses = geographies.flatMap((g) => g.misses);
  const count = (list: SiteFidelity[], board: (s: SiteFidelity) => string) => list.reduce((n, s) => n + s.servedBy.filter((b) => b === board(s)).length, 0);
  const modes = VERIFY_MODES.map((mode): ModeFidelity => {
    const ofMode = checks.filter((s) => s.mode === mode);
    return {
      mode,
      connections: connectionsOf(ofMode),
      wonByPredicted: count(ofMode, (s) => s.predicted),
      wonByClosest: count(ofMode, (s) => s.closest),
      onLowestDownlink: count(ofMode, (s) => s.lowestDownlink),
      medianCostMs: median(ofMode.flatMap((s) => s.costMs)),
      missesBeyondNoise: misses.filter((m) => m.mode === mode && m.beyondNoise).length,
    };
  });
  const decisive = geographies.flatMap((g) => g.checks.filter((s) => s.marginMs > g.noiseMs));
  const downlinkDecisive = decisive.filter((s) => DOWNLINK_MODES.includes(s.mode));
  return {
    seed,
    geographies,
    modes,
    misses,
    decisive: { connections: connectionsOf(decisive), onPredicted: count(decisive, (s) => s.predicted) },
    downlinkDecisive: { connections: connectionsOf(downlinkDecisive), onLowestDownlink: count(downlinkDecisive, (s) => s.lowestDownlink) },
  };
}

/**
 * Brings up one lab per random geography (fid-<seed>-<i>), verifies every mode on it and takes it down again
 * whatever happens. The labs race synchronized, so the winner cache remembers synchronized winners.
 */
export async function runFidelity(options: FidelityOptions, signal: AbortSignal, progress = new Progress()): Promise<FidelityResult> {
  const geographies: GeographyFidelity[] = [];
  for (let i = 0; i < options.geographies; i++) {
    const seed = options.seed + i;
    const generated = randomLab(seed);
    const dir = mkdtempSync(join(tmpdir(), `synrace-fid-${seed}-`));
    try {
      const files = { topology: join(dir, 'topology.yaml'), profile: join(dir, 'profile.yaml') };
      writeFileSync(files.topology, generated.topologyYaml);
      writeFileSync(files.profile, generated.profileYaml);
      const name = `fid-${options.seed}-${i}`;
      progress.step(`fidelity: geography ${i + 1} of ${options.geographies} (seed ${seed}): lab ${name}, ${generated.sites.length} sites`);
      const run = await withLab({ name, ...files, configuration: options.configuration, raceMode: 'synchronized' }, signal, async (lab) => {
        progress.step(`fidelity: ${name} up; ${options.connections} connections per client site in each mode`);
        const { verdicts } = await lab.verify(VERIFY_MODES, options.connections);
        const { topology, profile } = lab.inputs();
        return judgeGeography(seed, name, generated.sites, topology, profile, verdicts);
      }, progress);
      geographies.push(run.value);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return summariseFidelity(options.seed, geographies);
}

const share = (n: number, of: number): string => (of === 0 ? '-' : `${((100 * n) / of).toFixed(0)}% (${n}/${of})`);

export function renderFidelity(result: FidelityResult, replay: string): string {
  const labs = result.geographies.map((g) => [
    String(g.seed),
    g.lab,
    g.sites.map((s) => `${s.name}${s.client && s.replica ? '*' : ''}${s.satellite ? ` (${s.satellite.kind} +${s.satellite.extraMs})` : ''}`).join(', '),
    g.noiseMs.toFixed(1),
    `${g.checks.filter((s) => s.servedBy.every((b) => b === s.predicted)).length}/${g.checks.length}`,
  ]);
  const modes = result.modes.map((m) => [
    m.mode,
    String(m.connections),
    share(m.wonByPredicted, m.connections),
    share(m.wonByClosest, m.connections),
    share(m.onLowestDownlink, m.connections),
    m.medianCostMs.toFixed(1),
    String(m.missesBeyondNoise),
  ]);
  const misses = result.misses.map((m) => [String(m.seed), m.clientSite, m.mode, m.predicted, m.observed ?? 'none', Number.isFinite(m.marginMs) ? m.marginMs.toFixed(1) : '-', m.beyondNoise ? 'BEYOND noise' : 'within noise']);
  const noise = result.geographies.map((g) => g.noiseMs);
  const target = result.modes.filter((m) => DOWNLINK_MODES.includes(m.mode));
  return [
    `seed ${result.seed}: ${replay}`,
    '',
    renderTable(['seed', 'lab', 'sites (* client and replica; satellite downlink +ms)', 'noise ms', 'site/mode checks all on predicted'], labs),
    '',
    renderTable(['mode', 'connections', 'won by predicted', 'won by truly closest', 'on lowest downlink', 'median handshake - direct to closest, ms', 'misses beyond noise'], modes),
    '',
    misses.length ? renderTable(['seed', 'client site', 'mode', 'predicted', 'observed', 'margin ms', 'against the noise'], misses) : 'no misses',
    '',
    `${result.geographies.length} random labs; measured noise per lab: median ${median(noise).toFixed(1)} ms, largest ${Math.max(0, ...noise).toFixed(1)} ms. ` +
      `Predicted = observed where the margin exceeds the noise: ${share(result.decisive.onPredicted, result.decisive.connections)}. ` +
      `Synchronized and cached on the lowest-downlink site: ${share(target.reduce((n, m) => n + m.onLowestDownlink, 0), target.reduce((n, m) => n + m.connections, 0))}; ` +
      `where the gap to the next downlink exceeds the noise: ${share(result.downlinkDecisive.onLowestDownlink, result.downlinkDecisive.connections)}.`,
  ].join('\n');
}
