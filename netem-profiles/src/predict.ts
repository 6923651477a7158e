import { oneWayDelay, pathBetween, type DelayProfile } from './profile';
import type { Board, Topology } from './topology';
import { boardsAt, boardsWithRole } from './topology-queries';

export interface CandidateTiming {
  board: string;
  site: string;
  kind: 'origin' | 'replica';
  /** d(c,s) + d(s,cand) + d(cand,c): the SYN goes client -> switch -> candidate, the SYN+ACK straight back. */
  raceMs: number;
  /** d(c,s) + D_max + d(cand,c): the switch holds each copy so that all arrive together. */
  syncRaceMs: number;
  /** d(c,cand) + d(cand,c) */
  rttMs: number;
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
  closest: string;
  /** How much sooner the winner answers than the runner-up. */
  marginMs: number;
  syncMarginMs: number;
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

  return boardsWithRole(topology, 'client-gateway').map((gateway) => {
    const c = gateway.site;
    const timings = candidates.map(
      (cand): CandidateTiming => ({
        board: cand.name,
        site: cand.site,
        kind: cand === origin ? 'origin' : 'replica',
        raceMs: roundMs(d(c, switchSite) + d(switchSite, cand.site) + d(cand.site, c)),
        syncRaceMs: roundMs(d(c, switchSite) + d(switchSite, cand.site) + holds.get(cand.name)! + d(cand.site, c)),
        rttMs: roundMs(d(c, cand.site) + d(cand.site, c)),
      }),
    );
    const plain = rank(timings, (t) => t.raceMs);
    const sync = rank(timings, (t) => t.syncRaceMs);
    const closest = rank(timings, (t) => t.rttMs);
    return {
      clientSite: c,
      hostBoard: boardsAt(topology, c).find((b) => b.roles.includes('client-host'))!.name,
      gatewayBoard: gateway.name,
      candidates: timings,
      winner: plain.first.board,
      syncWinner: sync.first.board,
      closest: closest.first.board,
      marginMs: plain.marginMs,
      syncMarginMs: sync.marginMs,
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
  const switchSite = boardsWithRole(topology, 'server-switch')[0].site;
  const delays = raceCandidates(topology).map((b) => ({ board: b.name, delay: oneWayDelay(profile, switchSite, b.site) }));
  const dMax = Math.max(...delays.map((c) => c.delay));
  return delays.map((c) => ({ board: c.board, holdMs: roundMs(dMax - c.delay) }));
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
