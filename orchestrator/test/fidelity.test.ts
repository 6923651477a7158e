// The fidelity bench's judgement: per-connection shares, and a miss judged by its margin against the lab's noise.
import assert from 'node:assert/strict';
import { loadProfile, loadTopology, predict, randomLab } from '@synrace/netem-profiles';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { judgeGeography, renderFidelity, summariseFidelity } from '../src/fidelity';
import type { SiteVerdict } from '../src/verify';

describe('fidelity: judging a random lab', () => {
  const lab = randomLab(3);
  const dir = mkdtempSync(join(tmpdir(), 'synrace-fidelity-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'topology.yaml'), lab.topologyYaml);
  writeFileSync(join(dir, 'profile.yaml'), lab.profileYaml);
  const topology = loadTopology(join(dir, 'topology.yaml'));
  const profile = loadProfile(join(dir, 'profile.yaml'), topology);
  const predictions = predict(topology, profile);

  /** Race verdicts served as predicted, late by `lateMs`, except `site`'s last connection, served by `other`. */
  function verdicts(lateMs: number, site?: string, other?: string, race: 'plain' | 'synchronized' = 'plain'): SiteVerdict[] {
    return predictions.map((p) => {
      const outcome = p.modes.find((m) => m.mode === race)!;
      const connections = [0, 1, 2].map((i) => {
        const servedBy = p.clientSite === site && i === 2 ? other! : outcome.winner;
        return { clientPort: 40000 + i, servedBy, tableWinner: servedBy, via: 'race' as const, handshakeMs: outcome.handshakeMs + lateMs, httpCode: 200 };
      });
      return { clientSite: p.clientSite, mode: race, race, predicted: outcome.winner, closest: p.closest, predictedHandshakeMs: outcome.handshakeMs, connections, ok: p.clientSite !== site };
    });
  }
  const judge = (v: SiteVerdict[]) => judgeGeography(3, 'fid-3-0', lab.sites, topology, profile, v);
  // The site the plain race decides most clearly (a client site that is also a replica site ties exactly: see randomLab).
  const site = [...predictions].sort((a, b) => b.marginMs - a.marginMs)[0];
  const runnerUp = [...site.candidates].sort((a, b) => a.raceMs - b.raceMs)[1];
  const marginMs = Math.round((runnerUp.raceMs - site.candidates.find((c) => c.board === site.winner)!.raceMs) * 1000) / 1000;

  it('takes its noise from the matched races: twice their largest lateness', () => {
    assert.equal(judge(verdicts(2.5)).noiseMs, 5);
  });

  it('has a clearly decided site to miss', () => assert.ok(marginMs > 1, `${marginMs} ms`));

  it('gives each miss its margin (the observed board predicted that much later) and judges it against the noise', () => {
    const loud = judge(verdicts(marginMs, site.clientSite, runnerUp.board));
    assert.deepEqual(loud.misses.map((m) => [m.observed, m.marginMs, m.beyondNoise]), [[runnerUp.board, marginMs, false]]);
    const quiet = judge(verdicts(0, site.clientSite, runnerUp.board));
    assert.deepEqual(quiet.misses.map((m) => m.beyondNoise), [true], 'no lateness measured: nothing excuses it');
    const failed = judge(verdicts(0, site.clientSite, 'nobody'));
    assert.equal(failed.misses[0].beyondNoise, true, 'a board that was no candidate has no margin');
  });

  it('counts connections per mode: won by the predicted, the truly closest and the lowest-downlink site', () => {
    const summary = summariseFidelity(3, [judge(verdicts(0, site.clientSite, runnerUp.board))]);
    const plain = summary.modes.find((m) => m.mode === 'plain')!;
    const total = 3 * predictions.length;
    assert.equal(plain.connections, total);
    assert.equal(plain.wonByPredicted, total - 1);
    const servedClosest = predictions.reduce((n, p) => n + [0, 1, 2].filter((i) => (p === site && i === 2 ? runnerUp.board : p.winner) === p.closest).length, 0);
    assert.equal(plain.wonByClosest, servedClosest);
    assert.equal(plain.missesBeyondNoise, 1);
    assert.equal(summary.modes.find((m) => m.mode === 'cached')!.connections, 0);
    assert.match(renderFidelity(summary, 'synrace fidelity --seed 3'), /seed 3: synrace fidelity --seed 3/);
  });

  it('names as lowest downlink the candidate with the smallest delay toward the client site', () => {
    const checks = judge(verdicts(0)).checks;
    // The synchronized race orders candidates by that very delay: the predictor's synchronized winner.
    for (const p of predictions) assert.equal(checks.find((c) => c.clientSite === p.clientSite)!.lowestDownlink, p.syncWinner);
  });

  it('counts synchronized connections on the lowest downlink apart where the gap to the next downlink exceeds the noise', () => {
    // The site the synchronized race decides most clearly, and the one it decides least clearly.
    const byMargin = [...predictions].sort((a, b) => b.modes.find((m) => m.mode === 'synchronized')!.marginMs - a.modes.find((m) => m.mode === 'synchronized')!.marginMs);
    const [clear, close] = [byMargin[0], byMargin.at(-1)!];
    const noiseMs = close.modes.find((m) => m.mode === 'synchronized')!.marginMs;
    const lateMs = noiseMs / 2;
    const runnerUpOf = (p: typeof clear) => p.candidates.find((c) => c.board !== p.syncWinner)!.board;
    const total = 3 * predictions.length;
    // Within the noise, a miss at the closest-run site is no counted miss beyond it.
    const closeMiss = summariseFidelity(3, [judge(verdicts(lateMs, close.clientSite, runnerUpOf(close), 'synchronized'))]);
    assert.ok(Math.abs(judge(verdicts(lateMs, close.clientSite, runnerUpOf(close), 'synchronized')).noiseMs - noiseMs) < 0.001);
    assert.equal(closeMiss.modes.find((m) => m.mode === 'synchronized')!.onLowestDownlink, total - 1);
    const decisive = 3 * predictions.filter((p) => p.modes.find((m) => m.mode === 'synchronized')!.marginMs > closeMiss.geographies[0].noiseMs).length;
    assert.deepEqual(closeMiss.downlinkDecisive, { connections: decisive, onLowestDownlink: decisive });
    // Beyond it, the same miss at the clearest site is counted.
    const clearMiss = summariseFidelity(3, [judge(verdicts(lateMs, clear.clientSite, runnerUpOf(clear), 'synchronized'))]);
    assert.equal(clearMiss.downlinkDecisive.onLowestDownlink, clearMiss.downlinkDecisive.connections - 1);
    assert.match(renderFidelity(clearMiss, 'x'), /where the gap to the next downlink exceeds the noise: \d+% \(\d+\/\d+\)/);
  });
});
