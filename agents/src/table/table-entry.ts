// One connection in the translation table, with the intrusive links the table
// needs for O(1) indexing and expiry (no per-entry Map or array).

/**
 * pending: start packet forwarded, no acknowledgement yet. replica: a replica
 * won and the connection is bound to it. origin: the server won; kept as a
 * tombstone so late answers can still be reset (protocol.md P500).
 */
export type EntryState = 'pending' | 'replica' | 'origin';

/** Which expiry class an entry is in; each has its own idle timeout. */
export type IdleClass = 'pending' | 'established' | 'closing';

export class TableEntry {
  state: EntryState = 'pending';
  /** The address whose acknowledgement won; null while pending. */
  winner: number | null = null;
  synRetransmits = 0;
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
  }
}
