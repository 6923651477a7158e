// The fidelity bench's judgement: a miss within the lab's measured noise is a near tie, any other a miss.
import assert from 'node:assert/strict';
import { loadProfile, loadTopology, predict, randomGeography } from '@synrace/netem-profiles';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { judgeGeography, renderFidelity, summariseFidelity } from '../src/fidelity';
import { resolveTopology } from '../src/inputs/lab-inputs';
import type { SiteVerdict } from '../src/verify';

describe('fidelity: judging a geography', () => {
  const topology = loadTopology(resolveTopology('world'));
  const dir = mkdtempSync(join(tmpdir(), 'synrace-fidelity-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'random-3.yaml');
  writeFileSync(file, randomGeography(topology, 3).yaml);
  const predictions = predict(topology, loadProfile(file, topology));

  /** Plain-race verdicts served as predicted, late by `lateMs`, except `site`, served by `other`. */
  function verdicts(lateMs: number, site?: string, other?: string): SiteVerdict[] {
    return predictions.map((p) => {
      const outcome = p.modes.find((m) => m.mode === 'plain')!;
      const servedBy = p.clientSite === site ? other! : outcome.winner;
      const connections = [0, 1, 2].map((i) => ({ clientPort: 40000 + i, servedBy, tableWinner: servedBy, via: 'race' as const, handshakeMs: outcome.handshakeMs + lateMs, httpCode: 200 }));
      return { clientSite: p.clientSite, mode: 'plain', race: 'plain', predicted: outcome.winner, closest: p.closest, predictedHandshakeMs: outcome.handshakeMs, connections, ok: servedBy === outcome.winner };
    });
  }
  const tightest = [...predictions].sort((a, b) => a.marginMs - b.marginMs)[0];
  const runnerUp = (site: string) => predictions.find((p) => p.clientSite === site)!.candidates.find((c) => c.board !== predictions.find((p) => p.clientSite === site)!.winner)!.board;

  it('takes its noise from the matched races: twice their largest lateness', () => {
    assert.equal(judgeGeography(3, 'random-3', predictions, verdicts(2.5)).noiseMs, 5);
  });

  it('calls a miss within the noise a near tie, and one beyond it a miss', () => {
    const loud = judgeGeography(3, 'random-3', predictions, verdicts(tightest.marginMs, tightest.clientSite, runnerUp(tightest.clientSite)));
    assert.equal(loud.sites.find((s) => s.clientSite === tightest.clientSite)!.outcome, 'near-tie');
    const quiet = judgeGeography(3, 'random-3', predictions, verdicts(0, tightest.clientSite, runnerUp(tightest.clientSite)));
    assert.equal(quiet.sites.find((s) => s.clientSite === tightest.clientSite)!.outcome, 'miss', 'no lateness measured: nothing excuses it');
    const summary = summariseFidelity([loud, quiet]);
    assert.deepEqual([summary.checks, summary.matches, summary.nearTies, summary.misses], [8, 6, 1, 1]);
    assert.match(renderFidelity(summary), /8 site\/mode checks: 6 on the predicted winner, 1 near ties missed within the lab's noise, 1 misses/);
  });
});
