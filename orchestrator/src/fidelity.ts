// How faithful the predictor is beyond the shipped geography: the live lab takes seeded random geographies
// one after another (netem apply, the switch's holds with them), every client site makes fresh connections in
// every mode, and each site is judged against the predictor. A miss where the predicted margin is within the
// lab's measured noise is a near tie, counted apart: the predictor named a coin toss, not a wrong winner.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { predict, randomGeography, type SitePrediction } from '@synrace/netem-profiles';
import type { Lab } from './lab';
import { renderTable } from './table';
import { modeOutcome, VERIFY_MODES, type SiteVerdict, type VerifyMode } from './verify';

export interface FidelityOptions {
  /** The first geography's seed; the others follow it (seed, seed + 1, ...). */
  seed: number;
  geographies: number;
  /** Fresh connections per client site and mode. */
  connections: number;
}

export interface SiteFidelity {
  clientSite: string;
  mode: VerifyMode;
  predicted: string;
  /** The board that served most connections. */
  observed: string | null;
  marginMs: number;
  predictedMs: number;
  /** Median handshake. */
  measuredMs: number;
  outcome: 'match' | 'near-tie' | 'miss';
}

export interface GeographyFidelity {
  seed: number;
  profile: string;
  /** Twice the largest excess of a matched race's median handshake over its prediction: how late an answer can come. */
  noiseMs: number;
  sites: SiteFidelity[];
}

export interface FidelityResult {
  geographies: GeographyFidelity[];
  checks: number;
  matches: number;
  nearTies: number;
  misses: number;
  /** Median and largest |measured - predicted| handshake of the matched checks. */
  handshakeErrorMs: { median: number; max: number };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[s.length >> 1];
};

function mostServedBy(v: SiteVerdict): string | null {
  const counts = new Map<string, number>();
  for (const c of v.connections) if (c.servedBy) counts.set(c.servedBy, (counts.get(c.servedBy) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
}

/** Judges one geography's verdicts: the noise comes from the matched races of this very run. */
export function judgeGeography(seed: number, profile: string, predictions: SitePrediction[], verdicts: SiteVerdict[]): GeographyFidelity {
  const measured = (v: SiteVerdict) => median(v.connections.slice(v.mode === 'cached' ? 1 : 0).map((c) => c.handshakeMs));
  const excess = verdicts.filter((v) => v.ok && v.mode !== 'cached').map((v) => measured(v) - v.predictedHandshakeMs);
  const noiseMs = 2 * Math.max(0, ...excess);
  const sites = verdicts.map((v): SiteFidelity => {
    const marginMs = modeOutcome(predictions.find((p) => p.clientSite === v.clientSite)!, v.race).marginMs;
    return {
      clientSite: v.clientSite,
      mode: v.mode,
      predicted: v.predicted,
      observed: mostServedBy(v),
      marginMs,
      predictedMs: v.predictedHandshakeMs,
      measuredMs: measured(v),
      outcome: v.ok ? 'match' : marginMs <= noiseMs ? 'near-tie' : 'miss',
    };
  });
  return { seed, profile, noiseMs, sites };
}

export function summariseFidelity(geographies: GeographyFidelity[]): FidelityResult {
  const sites = geographies.flatMap((g) => g.sites);
  const errors = sites.filter((s) => s.outcome === 'match').map((s) => Math.abs(s.measuredMs - s.predictedMs));
  return {
    geographies,
    checks: sites.length,
    matches: sites.filter((s) => s.outcome === 'match').length,
    nearTies: sites.filter((s) => s.outcome === 'near-tie').length,
    misses: sites.filter((s) => s.outcome === 'miss').length,
    handshakeErrorMs: { median: median(errors), max: Math.max(0, ...errors) },
  };
}

/** Runs the geographies on the live lab and puts its own profile back afterwards, whatever happens. */
export async function runFidelity(lab: Lab, options: FidelityOptions): Promise<FidelityResult> {
  const { topology } = lab.inputs();
  const dir = lab.runDir.path('fidelity');
  mkdirSync(dir, { recursive: true });
  const original = `${dir}/original.yaml`;
  writeFileSync(original, readFileSync(lab.state().profileFile));
  const geographies: GeographyFidelity[] = [];
  try {
    for (let i = 0; i < options.geographies; i++) {
      const seed = options.seed + i;
      const geography = randomGeography(topology, seed);
      const file = `${dir}/${geography.name}.yaml`;
      writeFileSync(file, geography.yaml);
      const profile = await lab.applyProfile(file);
      lab.progress.step(`fidelity: geography ${i + 1} of ${options.geographies} (seed ${seed}): ${options.connections} connections per client site in each mode`);
      const { verdicts } = await lab.verify(VERIFY_MODES, options.connections);
      geographies.push(judgeGeography(seed, profile.name, predict(topology, profile), verdicts));
    }
  } finally {
    await lab.applyProfile(original);
    rmSync(dir, { recursive: true, force: true });
  }
  return summariseFidelity(geographies);
}

export function renderFidelity(result: FidelityResult): string {
  const rows = result.geographies.flatMap((g) => g.sites.map((s) => [
    String(g.seed),
    s.clientSite,
    s.mode,
    s.predicted,
    s.observed ?? 'none',
    s.marginMs.toFixed(1),
    `${s.measuredMs.toFixed(1)} / ${s.predictedMs.toFixed(1)}`,
    s.outcome === 'near-tie' ? `near tie (noise ${g.noiseMs.toFixed(1)} ms)` : s.outcome,
  ]));
  const { checks, matches, nearTies, misses, handshakeErrorMs } = result;
  return [
    renderTable(['seed', 'client site', 'mode', 'predicted', 'observed (most)', 'margin ms', 'handshake ms (measured / predicted)', 'outcome'], rows),
    '',
    `${result.geographies.length} random geographies, ${checks} site/mode checks: ${matches} on the predicted winner, ${nearTies} near ties missed within the lab's noise, ${misses} misses; ` +
      `handshake error of the matches: median ${handshakeErrorMs.median.toFixed(1)} ms, largest ${handshakeErrorMs.max.toFixed(1)} ms`,
  ].join('\n');
}
