// The client gateway's winner cache at work (issue #14): a start packet to a server whose race was won
// less than a TTL ago goes straight to that winner, untagged, in the configuration's own way (A: addressed
// to the replica; B and C: tunnelled from the gateway's WAN address, sent by the gateway itself, since the
// kernel drops a packet from its own address arriving on a forwarded path; the origin: as it is). The SYN
// is kept: if the winner does not answer within its deadline, refuses, or the client retransmits, the kept
// SYN is raced and the winner forgotten, so a dead winner costs one deadline, never a hung connection.
// In A the gateway's LAN classifier may send the start packet itself, from a mirror of the cache; its clone
// comes here (startedInKernel), and from then on the connection is the same as one sent here.
import { addTag, createIpv4View, createTcpView, encapsulate, parseIpv4, parseTcp, setDst, type Ipv4View } from '../packet';
import { WinnerCache, type CachedWinner, type TableEntry, type WinnerCacheListener } from '../table';
import type { Counters } from '../protocol/counters';
import type { Verdicts } from '../protocol/steered-queue';
import type { ClientGatewayConfig, GatewayWinnerCacheConfig } from './client-gateway-config';

/**
 * Why a cached start packet was raced after all; each is counted as cache-missed-<reason>-raced. forgotten:
 * the classifier sent it to a winner the cache forgot before its clone came here.
 */
export type CacheMiss = 'deadline' | 'retransmission' | 'refusal' | 'forgotten';

export interface CachedStarts {
  readonly cache: WinnerCache;
  /** A new connection's start packet (tags stripped, MSS clamped): true when it went to a cached winner. */
  start(packet: Buffer, ip: Ipv4View, entry: TableEntry, v: Verdicts): boolean;
  /** The clone of a start packet the LAN classifier sent to `ip`'s destination, a remembered winner of the entry's server; the clone is the caller's to drop. */
  startedInKernel(clone: Buffer, ip: Ipv4View, entry: TableEntry): void;
  /** The cached start packet goes into the race now (the caller races the retransmission itself, or not). */
  raceInstead(entry: TableEntry, reason: CacheMiss, sendKept: boolean): void;
  /** The entry's race or cached start was won: remember the winner, or learn its RTT. */
  won(entry: TableEntry): void;
}

export interface CachedStartsDeps {
  config: ClientGatewayConfig;
  cacheConfig: GatewayWinnerCacheConfig;
  counters: Counters;
  send(packet: Buffer, dst: number): void;
  now(): number;
  /** Runs fn after ms; returns a cancel. */
  later(ms: number, fn: () => void): () => void;
  /** Records the winner the kernel path found for the entry, if it found one: a miss must not race a connection already won. */
  learnKernelWin(entry: TableEntry): void;
  /** Told of every winner the cache remembers and forgets (the kernel path's mirror). */
  mirror?: WinnerCacheListener;
}

export function createCachedStarts({ config, cacheConfig, counters, send, now, later, learnKernelWin, mirror }: CachedStartsDeps): CachedStarts {
  const cache = new WinnerCache(cacheConfig, mirror);
  // Only races for the configured origin servers are remembered: anything else never raced.
  const servers = new Set(config.candidates.map((c) => c.server));
  const keptIp = createIpv4View();
  const keptTcp = createTcpView();

  function raceInstead(entry: TableEntry, reason: CacheMiss, sendKept: boolean): void {
    learnKernelWin(entry);
    if (!entry.inTable || entry.state !== 'pending' || entry.via !== 'cache') return;
    entry.via = 'race-after-cache';
    entry.cancelDeadline?.();
    entry.cancelDeadline = null;
    if (entry.cached) cache.evict(entry.cached);
    counters.add(`cache-missed-${reason}-raced`);
    const kept = entry.keptSyn;
    entry.keptSyn = null;
    entry.raceStartedAt = now();
    if (!sendKept || !kept || parseIpv4(kept, 0, keptIp) !== 'ok' || parseTcp(kept, keptIp, keptTcp) !== 'ok') return;
    const tagged = addTag(kept, keptIp, keptTcp, true);
    if (!tagged.ok) counters.add(`syn-untagged-${tagged.reason}`);
    send(tagged.ok ? tagged.packet : kept, entry.serverIp);
  }

  function start(packet: Buffer, ip: Ipv4View, entry: TableEntry, v: Verdicts): boolean {
    if (!servers.has(entry.serverIp)) return false;
    const cached = cache.lookup(entry.serverIp, entry.serverPort, now());
    if (!cached) return false;
    const tunnelled = cached.winner !== entry.serverIp && config.configuration !== 'A';
    const wrapped = tunnelled ? encapsulate(packet, ip, cacheConfig.tunnelSource, cached.winner) : null;
    if (wrapped && !wrapped.ok) {
      counters.add(`cached-start-not-tunnelled-${wrapped.reason}`);
      return false;
    }
    keep(packet, ip, entry, cached);
    if (wrapped) {
      v.drop();
      send(wrapped.packet, cached.winner);
      return true;
    }
    if (cached.winner !== entry.serverIp) setDst(packet, ip, cached.winner);
    v.rewritten(packet);
    return true;
  }

  /** The start packet as the client sent it (tags stripped, MSS clamped) is kept, and the winner's deadline starts. */
  function keep(packet: Buffer, ip: Ipv4View, entry: TableEntry, cached: CachedWinner | null): void {
    entry.via = 'cache';
    entry.cached = cached;
    entry.keptSyn = Buffer.from(packet.subarray(ip.offset, ip.offset + ip.totalLength));
    counters.add('syn-cached');
    if (cached) entry.cancelDeadline = later(cache.deadlineMs(cached), () => raceInstead(entry, 'deadline', true));
  }

  function startedInKernel(clone: Buffer, ip: Ipv4View, entry: TableEntry): void {
    // The classifier judged the TTL on its own clock: the winner it sent to counts while the cache still names it.
    const cached = cache.sentTo(entry.serverIp, entry.serverPort, ip.dst) ?? null;
    if (ip.dst !== entry.serverIp) setDst(clone, ip, entry.serverIp);
    keep(clone, ip, entry, cached);
    counters.add('syn-cached-in-kernel');
    if (!cached) raceInstead(entry, 'forgotten', true);
  }

  function won(entry: TableEntry): void {
    if (entry.winner === null) return;
    const elapsed = now() - entry.raceStartedAt;
    if (entry.via === 'cache') {
      entry.cancelDeadline?.();
      entry.cancelDeadline = null;
      entry.keptSyn = null;
      counters.add('won-by-cache');
      if (entry.cached) cache.sample(entry.cached, elapsed);
      return;
    }
    // A cached winner that answered after its deadline serves this connection but is not trusted again.
    if (entry.via === 'race-after-cache' && entry.winner === entry.cached?.winner) return counters.add('won-by-late-cached-winner');
    // Karn: after a retransmitted SYN the answer's time says nothing about either send.
    if (entry.via === 'untagged' || entry.synRetransmits > 0 || !servers.has(entry.serverIp)) return;
    cache.remember(entry.serverIp, entry.serverPort, entry.winner, elapsed, now());
  }

  return { cache, start, startedInKernel, raceInstead, won };
}
