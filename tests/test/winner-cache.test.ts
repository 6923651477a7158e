// Issue #14, "race once, remember the winner": on a live world lab in configurations A, B and C, cached
// connections go straight to the race's winner and say so, cost about a direct round trip, race again after
// the TTL, a powered-off cached winner costs one deadline and a race, never a hung connection, and a cached
// winner forced busy loses its clients at their next connection.
// Tolerances come from the lab's own measured noise (raced handshakes against the predictor), not constants.
import assert from 'node:assert/strict';
import { boardsWithRole, predict, raceSettings, type DelayProfile, type SitePrediction, type Topology } from '@synrace/netem-profiles';
import type { Configuration, RaceMode, WinnerCacheDump } from '@synrace/agents';
import { candidateBoards, curlLoop, Lab, originAddress, parseCurlLoop, type SiteVerdict } from '@synrace/orchestrator';
import { LIVE_LAB, skipBecause, useLab } from '../src';
import { worldWithWinnerCache } from '../src/race-topology';
import { entryOfClientPort, fetchFrom, growth, predictionFor, predictWithout, type Fetch } from '../src/protocol-helpers';

/** Short enough to wait out in a test, long enough for a burst of connections inside it on a loaded host. */
const TEST_TTL_MS = 8000;

const live = LIVE_LAB ? Lab.attach(LIVE_LAB).state().protocol : undefined;
const configurations: Configuration[] = live ? [live.configuration] : ['A', 'B', 'C'];
const topologyFile = LIVE_LAB ? undefined : worldWithWinnerCache(TEST_TTL_MS);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** The winner of a race mode at a site, from the predictor. */
const winnerIn = (p: SitePrediction, race: RaceMode) => p.modes.find((m) => m.mode === race)!;

/**
 * The client site whose race (in the lab's mode) a replica wins most decisively, with that winner and
 * without it, so that what the test proves does not hang on a few milliseconds of the host's load.
 */
function decisiveReplicaSite(topology: Topology, profile: DelayProfile, race: RaceMode): SitePrediction {
  const replicas = new Set(boardsWithRole(topology, 'replica').map((b) => b.name));
  const won = predict(topology, profile).filter((p) => replicas.has(winnerIn(p, race).winner));
  const decisiveness = (p: SitePrediction) => Math.min(winnerIn(p, race).marginMs, winnerIn(predictionFor(predictWithout(topology, profile, [winnerIn(p, race).winner]), p.clientSite), race).marginMs);
  return won.reduce((best, p) => (decisiveness(p) > decisiveness(best) ? p : best));
}

for (const configuration of configurations) describe(`winner cache, configuration ${configuration}, on the world lab`, function () {
  this.timeout(180_000);
  const race: RaceMode = live?.raceMode ?? 'bounded';
  const lab = useLab({ name: `e2e-winner-cache-${configuration.toLowerCase()}`, configuration, raceMode: race, ...(topologyFile ? { topology: topologyFile } : {}) });
  const world = () => lab().inputs();
  const url = () => `http://${originAddress(world().topology)}/index.html`;
  const site = () => decisiveReplicaSite(world().topology, world().profile, race);
  const gateway = () => lab().agent(site().gatewayBoard);
  const cacheOf = async (): Promise<WinnerCacheDump> => {
    const cache = await gateway().winnerCache();
    if (!cache) throw new Error(`${site().gatewayBoard} has no winner cache`);
    return cache;
  };
  const viaOf = async (f: { localPort: number }) => entryOfClientPort(await gateway().table(), f.localPort)?.via;
  /** `count` fresh connections in one go on the site's host, so that a burst fits well inside the TTL. */
  const burst = async (count: number) => {
    const { code, stdout, stderr } = await lab().exec(site().hostBoard, curlLoop(url(), count), 60_000);
    const connections = parseCurlLoop(stdout).map((c) => ({ ...c, localPort: c.clientPort }));
    assert.ok(code === 0 && connections.length === count, `a burst of ${count} connections on ${site().hostBoard} gave ${connections.length} (exit ${code}): ${stdout}${stderr}`);
    return connections;
  };
  /** Empties the site's cache: the next connection races. */
  const forget = async () => {
    await gateway().setWinnerCache(false);
    await gateway().setWinnerCache(true);
  };

  /**
   * The lab's noise for this site: a burst of raced handshakes (the caches off) against the predictor's race
   * time. Their median excess is the agents' per-handshake overhead on this loaded host, the largest excess how
   * late an answer can come here.
   */
  let noise: { overheadMs: number; worstMs: number };
  /**
   * How late a run's raced answers came: the largest excess over its predicted race time of any raced connection
   * served by the predicted winner, or the site's burst's. A late hold timer at the switch shows here too, at the
   * sites whose winner's copy is held.
   */
  const latenessIn = (verdicts: SiteVerdict[]): number => {
    const predictions = predict(world().topology, world().profile);
    return Math.max(noise.worstMs, ...verdicts.flatMap((v) => {
      const predicted = winnerIn(predictionFor(predictions, v.clientSite), v.race);
      return v.connections.filter((c) => c.via === 'race' && c.servedBy === predicted.winner).map((c) => c.handshakeMs - predicted.handshakeMs);
    }));
  };
  /** A race whose margin a late answer could swallow: any candidate within it may win, as verify names such a tie and does not judge it. */
  const nearTie = (marginMs: number, latenessMs: number) => marginMs <= 2 * latenessMs;
  before(async function () {
    this.timeout(120_000);
    const predicted = winnerIn(site(), race).handshakeMs;
    await gateway().setWinnerCache(false);
    let raced: number[];
    try {
      raced = (await burst(9)).map((c) => c.handshakeMs);
    } finally {
      await gateway().setWinnerCache(true);
    }
    noise = { overheadMs: Math.max(0, median(raced) - predicted), worstMs: Math.max(0, ...raced.map((ms) => ms - predicted)) };
  });

  it('sends every connection after the first straight to the predicted winner, each saying it was cached', async () => {
    const { verdicts } = await lab().verify(['cached'], 6);
    const predictions = predict(world().topology, world().profile);
    const lateMs = latenessIn(verdicts);
    for (const v of verdicts) {
      const got = v.connections.map((c) => `${c.servedBy}/${c.tableWinner}/${c.via}`).join(' ');
      assert.deepEqual(v.connections.map((c) => c.via), ['race', 'cache', 'cache', 'cache', 'cache', 'cache'], `${v.clientSite}: ${got}`);
      const first = v.connections[0].servedBy;
      assert.ok(v.connections.every((c) => c.httpCode === 200 && c.servedBy === first && c.tableWinner === first), `${v.clientSite}: every cached connection goes to the first one's winner: ${got}`);
      // The first connection's race decides; on a near tie the runner-up may take it, and the cache follows.
      if (!nearTie(winnerIn(predictionFor(predictions, v.clientSite), race).marginMs, lateMs)) assert.ok(v.ok, `${v.clientSite}: predicted ${v.predicted}, got ${got} (answers up to ${lateMs.toFixed(1)} ms late)`);
    }
    assert.equal((await cacheOf()).enabled, true, 'verify leaves the cache as it found it');
  });

  it('lands every client site on the predictor\'s winner of the bounded race, the caches off', async () => {
    const { verdicts } = await lab().verify(['bounded'], 3);
    const predictions = predict(world().topology, world().profile);
    const lateMs = latenessIn(verdicts);
    for (const v of verdicts) {
      const got = v.connections.map((c) => `${c.servedBy}/${c.via}`).join(' ');
      assert.ok(v.connections.every((c) => c.via === 'race'), `${v.clientSite}: every connection raced: ${got}`);
      const prediction = predictionFor(predictions, v.clientSite);
      if (nearTie(winnerIn(prediction, 'bounded').marginMs, lateMs)) {
        // Within the run's own noise either candidate may win (as verify names such a tie and does not judge it); a
        // candidate outside it may not. CI66: Sao Paulo's rep-mia and rep-iad, 2 of 3 to the runner-up.
        const best = Math.min(...prediction.candidates.map((c) => c.boundedRaceMs));
        const tied = prediction.candidates.filter((c) => c.boundedRaceMs - best <= 2 * lateMs).map((c) => c.board);
        assert.ok(v.connections.every((c) => tied.includes(c.servedBy ?? '') && c.tableWinner === c.servedBy), `${v.clientSite} (near tie): ${tied.join(' or ')}, got ${got}`);
      } else {
        assert.ok(v.ok, `${v.clientSite}: predicted ${v.predicted}, got ${got} (answers up to ${lateMs.toFixed(1)} ms late)`);
      }
    }
  });

  it('makes a cached handshake cost the round trip to the winner plus the measured overhead, far less than the race', async () => {
    const outcome = winnerIn(site(), race);
    // The cost is judged against the predicted winner's round trip, so the race that fills the cache must go to it:
    // beside two other labs a single race now and then goes to the runner-up (CI40), and is then run again.
    let cached: Awaited<ReturnType<typeof burst>> = [];
    for (let attempt = 0; attempt < 3 && cached[0]?.servedBy !== outcome.winner; attempt++) {
      await forget();
      cached = (await burst(11)).slice(1);
    }
    const table = await gateway().table();
    for (const f of cached) {
      const entry = entryOfClientPort(table, f.localPort);
      assert.deepEqual([f.httpCode, f.servedBy, entry?.via], [200, outcome.winner, 'cache'], `port ${f.localPort}: ${JSON.stringify(entry)}; table counters ${JSON.stringify(table.counters)}`);
    }
    const cachedMs = median(cached.map((f) => f.handshakeMs));
    // The cached path crosses fewer agents than a race: no worse than the latest raced answer measured here.
    const allowance = noise.worstMs + 1;
    assert.ok(cachedMs <= outcome.cachedHandshakeMs + allowance, `${site().clientSite}: cached handshake ${cachedMs.toFixed(1)} ms, predicted ${outcome.cachedHandshakeMs} ms + measured lateness ${noise.worstMs.toFixed(1)} ms (median overhead ${noise.overheadMs.toFixed(1)} ms)`);
    assert.ok(cachedMs >= outcome.cachedHandshakeMs - 1, `${cachedMs.toFixed(1)} ms is faster than the wire's ${outcome.cachedHandshakeMs} ms: not a round trip to ${outcome.winner}`);
    assert.ok(outcome.handshakeMs - outcome.cachedHandshakeMs > allowance, 'the site must gain more from the cache than the noise, or this test proves nothing');
  });

  it('races again once the TTL (counted from the race) has run out', async function () {
    const { ttlMs } = raceSettings(world().topology).winnerCache;
    if (ttlMs > 60_000) skipBecause(this, `this lab's winner cache TTL is ${ttlMs} ms`);
    await forget();
    const first = await fetchFrom(lab(), site().hostBoard, url());
    const racedAt = Date.now();
    const second = await fetchFrom(lab(), site().hostBoard, url());
    assert.deepEqual([await viaOf(first), await viaOf(second)], ['race', 'cache']);
    await new Promise((r) => setTimeout(r, Math.max(0, racedAt + ttlMs - Date.now()) + 200));
    const third = await fetchFrom(lab(), site().hostBoard, url());
    const entry = entryOfClientPort(await gateway().table(), third.localPort);
    assert.equal(entry?.via, 'race', 'after the TTL the next connection races');
    // Which candidate a single race picks is judged against the noise by the race tests; here, that it was a
    // race the winner answered (beside two other labs, this site's runner-up once won it: CI40).
    assert.equal(candidateBoards(world().topology).get(entry!.winner!), third.servedBy, 'served by the race\'s winner');
  });

  /**
   * Fills the site's cache with its winner in `warmCount` connections, then makes one connection while `outage`
   * keeps that winner from answering, and checks that the gateway counted one cached SYN missed by `miss` and
   * that the race after it went to the predictor's winner without the cached one.
   */
  const connectWithoutCachedWinner = async (warmCount: number, outage: (winner: string) => Promise<() => Promise<unknown>>, miss: 'deadline' | 'refusal') => {
    await forget();
    const warm = await burst(warmCount);
    const entry = (await cacheOf()).entries.find((e) => e.port === 80)!;
    // The race that filled the cache is judged by the suite's race tests; what is at stake here is whoever
    // it left in the cache (on a host busy with other suites, a near tie's runner-up now and then).
    const winner = candidateBoards(world().topology).get(entry.winner)!;
    assert.deepEqual(warm.map((f) => f.servedBy), warm.map(() => winner), 'every warm-up connection went to the cached winner');
    const without = winnerIn(predictionFor(predictWithout(world().topology, world().profile, [winner]), site().clientSite), race);
    const restore = await outage(winner);
    let fetch: Fetch;
    let missed: number;
    try {
      missed = await growth(lab(), site().gatewayBoard, `cache-missed-${miss}-raced`, async () => {
        fetch = await fetchFrom(lab(), site().hostBoard, url());
      });
    } finally {
      await restore();
      await forget();
    }
    assert.equal(missed, 1, `one cached connection missed by ${miss}`);
    assert.deepEqual([fetch!.code, fetch!.servedBy], [200, without.winner], `${site().clientSite} without ${winner}`);
    return { winner, without, warm, entry, fetch: fetch! };
  };

  it(`hands a cached winner forced busy no more connections: the next one races without it (${configuration === 'A' ? 'A: its filter refuses at once' : `${configuration}: its agent drops, after a deadline`})`, async () => {
    // In A the cached SYN goes to the replica's stack, whose filter answers it with a RST; in B and C it is
    // tunnelled to the replica's agent, which drops a start packet while busy.
    const { without, entry, fetch } = await connectWithoutCachedWinner(3, async (winner) => {
      await lab().agent(winner).setBusy(true);
      return () => lab().agent(winner).setBusy(false);
    }, configuration === 'A' ? 'refusal' : 'deadline');
    if (configuration === 'A') assert.ok(fetch.connectMs < entry.deadlineMs + without.handshakeMs, `handshake ${fetch.connectMs.toFixed(1)} ms: refused at once, not after the deadline of ${entry.deadlineMs} ms`);
    else assert.ok(fetch.connectMs >= entry.deadlineMs, 'it waited for the deadline first');
  });

  it('costs at most a deadline and a race when the cached winner is powered off, and forgets it', async () => {
    const { winner, without, warm, entry, fetch } = await connectWithoutCachedWinner(4, async (w) => {
      await lab().power(w, 'off');
      return () => lab().power(w, 'on');
    }, 'deadline');
    assert.ok(entry.direct, 'the deadline came from cached handshakes');
    // How late answers came, beside the suite's own measure: the cached handshakes just before the outage.
    const lateNow = Math.max(0, ...warm.slice(1).map((f) => f.handshakeMs - winnerIn(site(), race).cachedHandshakeMs));
    const lateness = Math.max(noise.worstMs, lateNow);
    // Two timed events, each as late as the lab's noise: the deadline's timer, and the race after it.
    const bound = entry.deadlineMs + without.handshakeMs + 2 * lateness + 1;
    assert.ok(fetch.connectMs <= bound, `handshake ${fetch.connectMs.toFixed(1)} ms with ${winner} off, at most deadline ${entry.deadlineMs} + race without it ${without.handshakeMs} + twice the measured lateness ${lateness.toFixed(1)} ms`);
    assert.ok(fetch.connectMs >= entry.deadlineMs, 'it waited for the deadline first');
  });
});
