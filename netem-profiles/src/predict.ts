import { oneWayDelay, pathBetween, type DelayProfile } from './profile';
import { raceSettings, type Board, type Topology } from './topology';
import { boardsAt, boardsWithRole } from './topology-queries';

export interface CandidateTiming {
  board: string;
  site: string;
  kind: 'origin' | 'replica';
  /** d(c,s) + d(s,cand) + d(cand,c): the SYN goes client -> switch -> candidate, the SYN+ACK straight back. */
  raceMs: number;
  /** d(c,s) + D_max + d(cand,c): the switch holds each copy so that all arrive together. */
  syncRaceMs: number;
  /** d(c,s) + max(d(s,cand), min(D_max, budget)) + d(cand,c): synchronized up to the switch's hold budget. */
  boundedRaceMs: number;
  /** d(c,cand) + d(cand,c): also a cached connection's handshake, which goes straight to the candidate. */
  rttMs: number;
}

/** The switch's race modes (the agents' RACE_MODES; this package depends on no other of ours). */
export type PredictedMode = 'plain' | 'synchronized' | 'bounded';

/** One race mode at one client site, and what the winner cache makes of it. */
export interface ModeOutcome {
  mode: PredictedMode;
  winner: string;
  marginMs: number;
  /** The winner's race time: the handshake of a connection that races. */
  handshakeMs: number;
  /** A connection within the winner cache's TTL after such a race: straight to the winner, its RTT. */
  cachedHandshakeMs: number;
  /** handshakeMs against a direct handshake with the truly closest site. */
  costMs: number;
  cachedCostMs: number;
}

export interface SitePrediction {
  clientSite: string;
  hostBoard: string;
  gatewayBoard: string;
  /** Origin first, then replicas in topology order (the tie-break order). */
  candidates: CandidateTiming[];
  /** Board names. */
  winner: string;
  syncWinner: string;
  boundedWinner: string;
  closest: string;
  /** How much sooner the winner answers than the runner-up. */
  marginMs: number;
  syncMarginMs: number;
  boundedMarginMs: number;
  /** Every race mode: plain, synchronized, bounded. */
  modes: ModeOutcome[];
  notes: string[];
}

/**
 * Who wins the SYN race from each client site, per protocol.md "What closest
 * means". Ties go to the earliest candidate in `candidates` order: the origin
 * first (on a tie nothing is gained by redirecting), then replicas in the
 * order the topology file lists them.
 */
export function predict(topology: Topology, profile: DelayProfile): SitePrediction[] {
  const switchSite = boardsWithRole(topology, 'server-switch')[0].site;
  const candidates = raceCandidates(topology);
  const origin = candidates[0];
  const d = (from: string, to: string): number => oneWayDelay(profile, from, to);
  const holds = new Map(synchronizedHolds(topology, profile).map((h) => [h.board, h.holdMs]));
  const boundedHold = new Map(boundedHolds(topology, profile).map((h) => [h.board, h.holdMs]));

  return boardsWithRole(topology, 'client-gateway').map((gateway) => {
    const c = gateway.site;
    const timings = candidates.map(
      (cand): CandidateTiming => ({
        board: cand.name,
        site: cand.site,
        kind: cand === origin ? 'origin' : 'replica',
        raceMs: roundMs(d(c, switchSite) + d(switchSite, cand.site) + d(cand.site, c)),
        syncRaceMs: roundMs(d(c, switchSite) + d(switchSite, cand.site) + holds.get(cand.name)! + d(cand.site, c)),
        boundedRaceMs: roundMs(d(c, switchSite) + d(switchSite, cand.site) + boundedHold.get(cand.name)! + d(cand.site, c)),
        rttMs: roundMs(d(c, cand.site) + d(cand.site, c)),
      }),
    );
    const plain = rank(timings, (t) => t.raceMs);
    const sync = rank(timings, (t) => t.syncRaceMs);
    const bounded = rank(timings, (t) => t.boundedRaceMs);
    const closest = rank(timings, (t) => t.rttMs);
    const outcome = (mode: PredictedMode, ranking: Ranking, time: (t: CandidateTiming) => number): ModeOutcome => ({
      mode,
      winner: ranking.first.board,
      marginMs: ranking.marginMs,
      handshakeMs: time(ranking.first),
      cachedHandshakeMs: ranking.first.rttMs,
      costMs: roundMs(time(ranking.first) - closest.first.rttMs),
      cachedCostMs: roundMs(ranking.first.rttMs - closest.first.rttMs),
    });
    return {
      clientSite: c,
      hostBoard: boardsAt(topology, c).find((b) => b.roles.includes('client-host'))!.name,
      gatewayBoard: gateway.name,
      candidates: timings,
      winner: plain.first.board,
      syncWinner: sync.first.board,
      boundedWinner: bounded.first.board,
      closest: closest.first.board,
      marginMs: plain.marginMs,
      syncMarginMs: sync.marginMs,
      boundedMarginMs: bounded.marginMs,
      modes: [outcome('plain', plain, (t) => t.raceMs), outcome('synchronized', sync, (t) => t.syncRaceMs), outcome('bounded', bounded, (t) => t.boundedRaceMs)],
      notes: explain({ profile, clientSite: c, switchSite, plain, sync, closest }),
    };
  });
}

/** The boards that answer a race: the origin first, then the replicas in topology order (the tie-break order). */
export function raceCandidates(topology: Topology): Board[] {
  const origin = boardsWithRole(topology, 'origin-server')[0];
  return [origin, ...boardsWithRole(topology, 'replica').filter((b) => b !== origin)];
}

export interface SynchronizedHold {
  board: string;
  /** How long the switch holds this candidate's copy: D_max - d(switch, candidate). */
  holdMs: number;
}

/**
 * Synchronized race: the switch holds each candidate's copy so that every candidate receives its copy at
 * the same moment, D_max after the switch saw the SYN. The origin at the switch's own site holds longest.
 */
export function synchronizedHolds(topology: Topology, profile: DelayProfile): SynchronizedHold[] {
  return holdsUntil(topology, profile, Infinity);
}

/**
 * Bounded race: every synchronized hold shortened by max(0, D_max - budget), so that no copy is held longer
 * than the budget. Candidates nearer the switch than min(D_max, budget) still receive their copies together;
 * farther ones get theirs unheld, as in the plain race.
 */
export function boundedHolds(topology: Topology, profile: DelayProfile, budgetMs = raceSettings(topology).holdBudgetMs): SynchronizedHold[] {
  return holdsUntil(topology, profile, budgetMs);
}

/** Holds that make every copy arrive min(D_max, budget) after the switch saw the SYN, or unheld when farther. */
function holdsUntil(topology: Topology, profile: DelayProfile, budgetMs: number): SynchronizedHold[] {
  const switchSite = boardsWithRole(topology, 'server-switch')[0].site;
  const delays = raceCandidates(topology).map((b) => ({ board: b.name, delay: oneWayDelay(profile, switchSite, b.site) }));
  const arrival = Math.min(Math.max(...delays.map((c) => c.delay)), budgetMs);
  return delays.map((c) => ({ board: c.board, holdMs: roundMs(Math.max(0, arrival - c.delay)) }));
}

/** Sums of float delays like 0.1 + 0.2 must compare equal when the profile says they are. */
function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

interface Ranking {
  first: CandidateTiming;
  second: CandidateTiming;
  marginMs: number;
}

/** Array.prototype.sort is stable, so equal times keep candidate order: the documented tie-break. */
function rank(timings: CandidateTiming[], time: (t: CandidateTiming) => number): Ranking {
  const [first, second] = [...timings].sort((a, b) => time(a) - time(b));
  return { first, second, marginMs: roundMs(time(second) - time(first)) };
}

interface Outcome {
  profile: DelayProfile;
  clientSite: string;
  switchSite: string;
  plain: Ranking;
  sync: Ranking;
  closest: Ranking;
}

function explain({ profile, clientSite: c, switchSite: s, plain, sync, closest }: Outcome): string[] {
  const d = (from: string, to: string): number => oneWayDelay(profile, from, to);
  const leg = (from: string, to: string) => (from === to ? undefined : pathBetween(profile, from, to));
  const notes: string[] = [];
  if (plain.first !== closest.first) {
    notes.push(
      `plain race picks ${plain.first.board} though ${closest.first.board} has the lowest RTT ` +
        `(${closest.first.rttMs} ms vs ${plain.first.rttMs} ms): every SYN copy detours through the switch at ${s}`,
    );
  }
  if (sync.first !== closest.first) {
    const w = sync.first;
    const best = closest.first;
    notes.push(
      `synchronized race picks ${w.board} (downlink ${d(w.site, c)} ms) though ${best.board} has the lowest RTT: ` +
        `asymmetric uplink, ${c} -> ${w.site} takes ${d(c, w.site)} ms vs ${d(c, best.site)} ms to ${best.site}, ` +
        `and no race sees the uplink`,
    );
  }
  for (const [label, ranking] of [['plain', plain], ['synchronized', sync]] as const) {
    // The client -> switch leg is shared by every copy; only the later legs can reorder them.
    const spread = [ranking.first, ranking.second]
      .flatMap((t) => [leg(s, t.site), leg(t.site, c)])
      .reduce((sum, p) => sum + (p?.jitterMs ?? 0), 0);
    if (ranking.marginMs <= spread) {
      notes.push(
        `${label} margin ${ranking.marginMs} ms is within the jitter of the paths (up to ${roundMs(spread)} ms): ` +
          `${ranking.second.board} may win some races`,
      );
    }
  }
  const lossy = [leg(c, s), leg(s, plain.first.site), leg(plain.first.site, c)].filter((p) => p && p.lossPct > 0);
  if (lossy.length > 0) {
    notes.push(
      `${plain.first.board}'s race path loses packets (${lossy.map((p) => `${p!.from} -> ${p!.to} ${p!.lossPct}%`).join(', ')}): ` +
        `a lost SYN or SYN+ACK hands that race to another candidate`,
    );
  }
  return notes;
}
