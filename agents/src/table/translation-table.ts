// The client gateway's translation table (protocol.md P200, P500, P600): which
// address won each connection's race, bounded under SYN floods, expired in
// O(expired) work.
//
// Index: entries hash on the client socket (client ip, client port) and chain
// through TableEntry.nextSameClient. A client socket rarely has more than one
// connection (the same source port to several servers), and the chain is
// capped, so both lookup paths cost one Map.get and a few comparisons: the
// client-side key, and an answer's (client socket, server port, answerer).
import { TcpFlag } from '../packet/tcp';
import { clientSocketId, type AnswerKey, type ConnectionKey } from './connection-key';
import { IdleList } from './idle-list';
import { zeroCounters, type TableCounters } from './table-counters';
import { describeEntry, type TableDump } from './table-dump';
import { TableEntry, type IdleClass } from './table-entry';

export interface TableOptions {
  maxEntries: number;
  /** Idle time after which an unanswered start packet is forgotten. */
  pendingIdleMs: number;
  /** Idle time after which a bound or origin connection is forgotten. */
  establishedIdleMs: number;
  /** Linger after FINs from both sides, so the last ACKs and retransmitted FINs are still translated. */
  closingIdleMs: number;
}

// Established and closing follow the NAT behaviour of RFC 5382 (REQ-5: 2 h 4 min
// established, 4 min transitory); pending outlives the gaps between the
// client's SYN retransmissions up to the 16 s one.
export const DEFAULT_TABLE_OPTIONS: TableOptions = {
  maxEntries: 100_000,
  pendingIdleMs: 20_000,
  establishedIdleMs: 7_440_000,
  closingIdleMs: 240_000,
};

/** Connections one client socket may have at once; caps the chain a lookup walks. */
export const MAX_CONNECTIONS_PER_CLIENT_SOCKET = 16;

export type PendingResult =
  | { entry: TableEntry; created: boolean }
  | { entry: null; refused: 'table-full' | 'client-socket-full' };

/**
 * won: first acknowledgement of the start packet. duplicate: the winner again
 * (its SYN+ACK retransmitted). late: another address after the winner; the
 * caller resets it. unrelated: it does not acknowledge this start packet, so it
 * is no answer at all and must neither win nor be reset.
 */
export type AnswerVerdict = 'won' | 'duplicate' | 'late' | 'unrelated';

export type Side = 'client' | 'server';
/** Why an entry left the table. */
export type Removal = 'reset' | 'expired' | 'replaced' | 'refused' | 'evicted';
export type SegmentOutcome = 'open' | 'closing' | 'ended';

export class TranslationTable {
  readonly counters: TableCounters = zeroCounters();
  private readonly options: TableOptions;
  private readonly byClientSocket = new Map<number, TableEntry>();
  private readonly idle: Record<IdleClass, IdleList> = { pending: new IdleList(), established: new IdleList(), closing: new IdleList() };
  private readonly idleMs: Record<IdleClass, number>;
  private entryCount = 0;

  /** Told of every entry that leaves the table, however it ends. */
  onRemoved: ((entry: TableEntry, why: Removal) => void) | null = null;

  constructor(options: Partial<TableOptions> = {}) {
    this.options = { ...DEFAULT_TABLE_OPTIONS, ...options };
    this.idleMs = { pending: this.options.pendingIdleMs, established: this.options.establishedIdleMs, closing: this.options.closingIdleMs };
  }

  get size(): number {
    return this.entryCount;
  }

  /** The entry for a client->server packet. */
  get(key: ConnectionKey): TableEntry | undefined {
    for (let e = this.chainOf(key.clientIp, key.clientPort); e; e = e.nextSameClient) {
      if (e.serverIp === key.serverIp && e.serverPort === key.serverPort) return e;
    }
    return undefined;
  }

  /**
   * The entry a packet towards the client belongs to: the one whose server or
   * bound replica is the answerer, else the only one of that client socket and
   * server port (a replica answering first, or late). Undefined when several
   * servers share that socket and port and the answerer is neither: the answer
   * cannot be attributed, so it must not win or be reset.
   */
  findForAnswer(answer: AnswerKey): TableEntry | undefined {
    let candidate: TableEntry | undefined;
    let candidates = 0;
    for (let e = this.chainOf(answer.clientIp, answer.clientPort); e; e = e.nextSameClient) {
      if (e.serverPort !== answer.serverPort) continue;
      if (e.serverIp === answer.answerer || e.winner === answer.answerer) return e;
      candidate = e;
      candidates++;
    }
    return candidates === 1 ? candidate : undefined;
  }

  /**
   * For a start packet: its entry, created pending if new. The same initial
   * sequence number again is a retransmission and reuses the entry whatever
   * its state; a new one means the client reused the key, so the old entry goes.
   */
  getOrCreatePending(key: ConnectionKey, isn: number, now: number): PendingResult {
    const existing = this.get(key);
    if (existing) {
      if (existing.isn === isn) {
        existing.synRetransmits++;
        this.counters.retransmittedSyns++;
        this.touch(existing, now);
        return { entry: existing, created: false };
      }
      this.remove(existing, 'replaced');
      this.counters.replaced++;
    }
    if (chainLength(this.chainOf(key.clientIp, key.clientPort)) >= MAX_CONNECTIONS_PER_CLIENT_SOCKET) {
      this.counters.refused++;
      return { entry: null, refused: 'client-socket-full' };
    }
    if (this.entryCount >= this.options.maxEntries && !this.evictOldestPending()) {
      this.counters.refused++;
      return { entry: null, refused: 'table-full' };
    }
    const entry = new TableEntry(key.clientIp, key.clientPort, key.serverIp, key.serverPort, isn, now);
    // Read after eviction, which may have unlinked this socket's chain head.
    entry.nextSameClient = this.chainOf(key.clientIp, key.clientPort);
    this.byClientSocket.set(clientSocketId(key.clientIp, key.clientPort), entry);
    this.idle.pending.append(entry);
    this.entryCount++;
    this.counters.created++;
    return { entry, created: true };
  }

  /**
   * Classifies a SYN+ACK from `answerer` acknowledging `ack`; the first real
   * one binds the entry. Entries that ended meanwhile get 'unrelated'.
   */
  recordAnswer(entry: TableEntry, answerer: number, ack: number, now: number, seq: number, answerWindowShift = -1): AnswerVerdict {
    // An ended entry answers nothing: binding it would put it back in a list.
    if (!entry.inTable || ack !== ((entry.isn + 1) >>> 0)) {
      this.counters.unrelatedAnswers++;
      return 'unrelated';
    }
    if (entry.state === 'pending') {
      entry.winner = answerer;
      entry.serverNextSeq = (seq + 1) >>> 0;
      entry.windowScaled = entry.clientWindowShift >= 0 && answerWindowShift >= 0;
      if (answerer === entry.serverIp) {
        entry.state = 'origin';
        this.counters.wonByOrigin++;
      } else {
        entry.state = 'replica';
        this.counters.wonByReplica++;
      }
      this.moveTo(entry, 'established');
      entry.lastSeen = now;
      return 'won';
    }
    if (answerer === entry.winner) {
      this.touch(entry, now);
      return 'duplicate';
    }
    this.counters.lateAnswers++;
    return 'late';
  }

  /** Whether a RST from the server side carries the one sequence number that may end the connection. */
  acceptsServerReset(entry: TableEntry, seq: number): boolean {
    return entry.serverNextSeq !== null && seq === entry.serverNextSeq;
  }

  /**
   * What a client segment says about the server's sequence space: its acknowledgement is the client's
   * RCV.NXT (only ever forward), its window the room the client gives the server from there.
   */
  recordClientAcknowledgement(entry: TableEntry, flags: number, ack: number, window: number): void {
    if (!entry.inTable || entry.serverNextSeq === null || !(flags & TcpFlag.ACK)) return;
    if (((ack - entry.serverNextSeq) | 0) > 0) entry.serverNextSeq = ack >>> 0;
    entry.clientWindow = entry.windowScaled ? window * 2 ** entry.clientWindowShift : window;
  }

  /** The client refused the connection's port at the origin (RST+ACK to the SYN): the entry ends. */
  endRefused(entry: TableEntry): void {
    if (!entry.inTable) return;
    this.remove(entry, 'refused');
    this.counters.refusedByOrigin++;
  }

  /**
   * Accounts a segment of the connection (after it was matched and accepted):
   * refreshes its idle time, ends it on RST, and after FINs from both sides
   * lets it linger for closingIdleMs. An entry that ended already stays ended.
   * A server segment moves serverNextSeq only when it ends inside the client's advertised window
   * (zero-window probes and a FIN at the window's edge included).
   */
  recordSegment(entry: TableEntry, from: Side, flags: number, now: number, seq = 0, payloadLength = 0): SegmentOutcome {
    if (!entry.inTable) return 'ended';
    if (from === 'server' && entry.serverNextSeq !== null) {
      const end = (seq + payloadLength + (flags & TcpFlag.FIN ? 1 : 0)) >>> 0;
      // Serial-number arithmetic: `end` is ahead by the signed 32-bit difference.
      const ahead = (end - entry.serverNextSeq) | 0;
      if (ahead > 0 && ahead <= entry.clientWindow + 1) entry.serverNextSeq = end;
      else if (ahead > 0) this.counters.serverSegmentsBeyondWindow++;
    }
    if (flags & TcpFlag.RST) {
      this.remove(entry, 'reset');
      this.counters.reset++;
      return 'ended';
    }
    if (flags & TcpFlag.FIN) {
      if (from === 'client') entry.finFromClient = true;
      else entry.finFromServer = true;
    }
    if (entry.finFromClient && entry.finFromServer && entry.idleClass !== 'closing') this.moveTo(entry, 'closing');
    this.touch(entry, now);
    return entry.idleClass === 'closing' ? 'closing' : 'open';
  }

  /**
   * Forgets entries idle past their class's timeout; returns how many. `seenElsewhere` is asked, for an
   * entry about to expire only, when a segment of it last crossed where the table did not see it (the
   * kernel path): a later one keeps the entry. So the work stays O(expired), however many are carried.
   */
  sweep(now: number, seenElsewhere?: (entry: TableEntry) => number): number {
    let expired = 0;
    for (const idleClass of ['pending', 'established', 'closing'] as const) {
      const list = this.idle[idleClass];
      const timeout = this.idleMs[idleClass];
      for (let e = list.head; e && now - e.lastSeen >= timeout; e = list.head) {
        const seen = seenElsewhere?.(e) ?? e.lastSeen;
        if (now - seen < timeout) {
          this.touch(e, seen);
          continue;
        }
        this.remove(e, 'expired');
        expired++;
      }
    }
    this.counters.expired += expired;
    return expired;
  }

  dump(now: number): TableDump {
    const entries = [];
    for (const list of Object.values(this.idle)) {
      for (const entry of list) entries.push(describeEntry(entry, now));
    }
    return { size: this.entryCount, maxEntries: this.options.maxEntries, counters: { ...this.counters }, entries };
  }

  private chainOf(clientIp: number, clientPort: number): TableEntry | null {
    return this.byClientSocket.get(clientSocketId(clientIp, clientPort)) ?? null;
  }

  private touch(entry: TableEntry, now: number): void {
    entry.lastSeen = now;
    this.idle[entry.idleClass].moveToTail(entry);
  }

  private moveTo(entry: TableEntry, idleClass: IdleClass): void {
    this.idle[entry.idleClass].remove(entry);
    entry.idleClass = idleClass;
    this.idle[idleClass].append(entry);
  }

  private evictOldestPending(): boolean {
    const oldest = this.idle.pending.head;
    if (!oldest) return false;
    this.remove(oldest, 'evicted');
    this.counters.evicted++;
    return true;
  }

  private remove(entry: TableEntry, why: Removal): void {
    this.idle[entry.idleClass].remove(entry);
    const socketId = clientSocketId(entry.clientIp, entry.clientPort);
    const head = this.chainOf(entry.clientIp, entry.clientPort);
    if (head === entry) {
      if (entry.nextSameClient) this.byClientSocket.set(socketId, entry.nextSameClient);
      else this.byClientSocket.delete(socketId);
    } else {
      for (let e = head; e; e = e.nextSameClient) {
        if (e.nextSameClient === entry) {
          e.nextSameClient = entry.nextSameClient;
          break;
        }
      }
    }
    entry.nextSameClient = null;
    entry.inTable = false;
    this.entryCount--;
    this.onRemoved?.(entry, why);
  }
}

function chainLength(head: TableEntry | null): number {
  let length = 0;
  for (let e = head; e; e = e.nextSameClient) length++;
  return length;
}
