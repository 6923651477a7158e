// The client gateway's memory of race winners (issue #14): after a race, new connections to the same
// server and port go straight to its winner until the TTL, counted from the race, runs out. Each entry
// keeps an RTT estimate of its winner (RFC 6298), from which a cached SYN's deadline comes: a winner that
// has not answered by then is raced after all.
import { ipToString } from '../packet/address';

export interface WinnerCacheOptions {
  ttlMs: number;
  maxEntries: number;
  /** Floor of the deadline's margin over the smoothed RTT (RFC 6298's 4 RTTVAR shrinks with steady samples). */
  deadlineSlackMs: number;
}

/** RFC 6298 caps its timer at 60 s or more; a cached SYN that waits a second has lost more than a race costs. */
export const MAX_DEADLINE_MS = 1000;

export interface CachedWinner {
  readonly server: number;
  readonly port: number;
  readonly winner: number;
  /** When the race that found this winner was won; the TTL counts from here, and use never moves it. */
  readonly racedAt: number;
  srttMs: number;
  rttvarMs: number;
  /**
   * False while the estimate comes from the race alone: a race detours through the switch, so its time
   * bounds the direct RTT from above, and the first direct sample starts the estimate afresh.
   */
  direct: boolean;
  hits: number;
}

export interface WinnerCacheDump {
  enabled: boolean;
  ttlMs: number;
  maxEntries: number;
  size: number;
  entries: { server: string; port: number; winner: string; ageMs: number; ttlLeftMs: number; srttMs: number; rttvarMs: number; deadlineMs: number; hits: number; direct: boolean }[];
}

/** Told of every change to what the cache would give a new connection (the gateway's kernel path mirrors it). */
export interface WinnerCacheListener {
  remembered(entry: CachedWinner): void;
  forgotten(entry: CachedWinner): void;
}

const key = (server: number, port: number): number => server * 0x10000 + port;

export class WinnerCache {
  enabled = true;
  /** Insertion order is use order: the first entry is the least recently used. */
  private readonly entries = new Map<number, CachedWinner>();

  constructor(readonly options: WinnerCacheOptions, private readonly listener?: WinnerCacheListener) {}

  get size(): number {
    return this.entries.size;
  }

  /** The winner to send a new connection to, if a race found one less than ttlMs ago. */
  lookup(server: number, port: number, now: number): CachedWinner | undefined {
    if (!this.enabled) return undefined;
    const k = key(server, port);
    const entry = this.entries.get(k);
    if (!entry) return undefined;
    this.entries.delete(k);
    if (now - entry.racedAt >= this.options.ttlMs) {
      this.listener?.forgotten(entry);
      return undefined;
    }
    return this.used(k, entry);
  }

  /**
   * The entry a start packet was already sent for, by a mirror of this cache that judged its TTL itself:
   * found while `winner` is still the server's remembered winner, even if its TTL ran out since.
   */
  sentTo(server: number, port: number, winner: number): CachedWinner | undefined {
    if (!this.enabled) return undefined;
    const k = key(server, port);
    const entry = this.entries.get(k);
    if (entry?.winner !== winner) return undefined;
    this.entries.delete(k);
    return this.used(k, entry);
  }

  /** A race's winner, answering `raceMs` after the SYN left: a fresh entry whose TTL starts now. */
  remember(server: number, port: number, winner: number, raceMs: number, now: number): void {
    if (!this.enabled) return;
    const k = key(server, port);
    this.entries.delete(k);
    if (this.entries.size >= this.options.maxEntries) {
      const [oldest, entry] = this.entries.entries().next().value!;
      this.entries.delete(oldest);
      this.listener?.forgotten(entry);
    }
    const entry: CachedWinner = { server, port, winner, racedAt: now, srttMs: raceMs, rttvarMs: raceMs / 2, direct: false, hits: 0 };
    this.entries.set(k, entry);
    this.listener?.remembered(entry);
  }

  /** A cached handshake's RTT (RFC 6298 2.2 and 2.3, alpha 1/8, beta 1/4). */
  sample(entry: CachedWinner, rttMs: number): void {
    if (!entry.direct) {
      entry.direct = true;
      entry.srttMs = rttMs;
      entry.rttvarMs = rttMs / 2;
      return;
    }
    entry.rttvarMs = 0.75 * entry.rttvarMs + 0.25 * Math.abs(entry.srttMs - rttMs);
    entry.srttMs = 0.875 * entry.srttMs + 0.125 * rttMs;
  }

  /** How long a cached SYN waits for its winner: SRTT + max(slack, 4 RTTVAR), at most MAX_DEADLINE_MS. */
  deadlineMs(entry: CachedWinner): number {
    return Math.min(MAX_DEADLINE_MS, entry.srttMs + Math.max(this.options.deadlineSlackMs, 4 * entry.rttvarMs));
  }

  /** The winner failed a cached connection: the next one races. Only the entry that failed goes. */
  evict(entry: CachedWinner): boolean {
    const k = key(entry.server, entry.port);
    if (this.entries.get(k) !== entry) return false;
    this.entries.delete(k);
    this.listener?.forgotten(entry);
    return true;
  }

  setEnabled(on: boolean): void {
    this.enabled = on;
    // Off forgets: a cache switched on again starts from races, not from winners of another time.
    if (on) return;
    for (const entry of this.entries.values()) this.listener?.forgotten(entry);
    this.entries.clear();
  }

  /** Moves a live entry to the end of the use order (re-inserted under `k`) and counts its use. */
  private used(k: number, entry: CachedWinner): CachedWinner {
    this.entries.set(k, entry);
    entry.hits++;
    return entry;
  }

  dump(now: number): WinnerCacheDump {
    const round = (ms: number) => Math.round(ms * 10) / 10;
    return {
      enabled: this.enabled,
      ttlMs: this.options.ttlMs,
      maxEntries: this.options.maxEntries,
      size: this.entries.size,
      entries: [...this.entries.values()].map((e) => ({
        server: ipToString(e.server),
        port: e.port,
        winner: ipToString(e.winner),
        ageMs: now - e.racedAt,
        ttlLeftMs: Math.max(0, this.options.ttlMs - (now - e.racedAt)),
        srttMs: round(e.srttMs),
        rttvarMs: round(e.rttvarMs),
        deadlineMs: round(this.deadlineMs(e)),
        hits: e.hits,
        direct: e.direct,
      })),
    };
  }
}
