// One connection in the translation table, with the intrusive links the table
// needs for O(1) indexing and expiry (no per-entry Map or array).
import type { CachedWinner } from './winner-cache';

/**
 * pending: start packet forwarded, no acknowledgement yet. replica: a replica
 * won and the connection is bound to it. origin: the server won; kept as a
 * tombstone so late answers can still be reset (protocol.md P500).
 */
export type EntryState = 'pending' | 'replica' | 'origin';

/**
 * How the start packet went out. race: tagged, to the server (the switch fans it out). cache: straight to
 * the winner the gateway remembered, untagged. race-after-cache: that winner missed its deadline, refused
 * or the client retransmitted, so the kept SYN was raced after all. untagged: no room for the tag, so the
 * origin alone gets it.
 */
export type Via = 'race' | 'cache' | 'race-after-cache' | 'untagged';

/** Who carries the connection's established segments: the agent's verdicts, or the kernel path's classifiers. */
export type CarriedBy = 'agent' | 'kernel';

/** Which expiry class an entry is in; each has its own idle timeout. */
export type IdleClass = 'pending' | 'established' | 'closing';

export class TableEntry {
  state: EntryState = 'pending';
  /** The address whose acknowledgement won; null while pending. */
  winner: number | null = null;
  synRetransmits = 0;
  via: Via = 'race';
  /** The remembered winner a cached start packet went to (via cache, and after it missed). */
  cached: CachedWinner | null = null;
  /** A cached start packet as the client sent it, kept until its winner answers, to be raced if it does not. */
  keptSyn: Buffer | null = null;
  cancelDeadline: (() => void) | null = null;
  /** When the start packet that decides the race left: the entry's creation, or when a kept SYN was raced. */
  raceStartedAt: number;
  /**
   * The sequence number the client expects next from the winner (its RCV.NXT as far as the gateway can
   * vouch for it), null until an acknowledgement won. It moves only with the client's own acknowledgements
   * and with server segments that end inside the window the client advertised, so a blind forger cannot
   * walk it; a RST from the server side is believed only at exactly this number (RFC 5961).
   */
  serverNextSeq: number | null = null;
  /** The receive window the client last advertised, in bytes (scaled once both ends offered scaling). */
  clientWindow = 0;
  /** Window scale shift of the client's SYN (-1: none); applied only when the winner's SYN+ACK offered one too. */
  clientWindowShift = -1;
  windowScaled = false;
  finFromClient = false;
  finFromServer = false;
  path: CarriedBy = 'agent';
  /** Segments the kernel path carried, as of its last read. */
  readonly kernelPackets = { toServer: 0, toClient: 0 };
  /** The kernel path's last segment, on the table's clock, as of its last read. */
  kernelLastSeen = 0;
  lastSeen: number;
  /** False once the entry has ended; a caller may still hold it. */
  inTable = true;
  idleClass: IdleClass = 'pending';
  /** Links of the entry's idle list, least recently seen first. */
  prev: TableEntry | null = null;
  next: TableEntry | null = null;
  /** Next entry of the same client socket: the chain the table hashes to. */
  nextSameClient: TableEntry | null = null;

  constructor(
    readonly clientIp: number,
    readonly clientPort: number,
    readonly serverIp: number,
    readonly serverPort: number,
    /** Initial sequence number of the client's start packet. */
    readonly isn: number,
    readonly createdAt: number,
  ) {
    this.lastSeen = createdAt;
    this.raceStartedAt = createdAt;
  }
}
