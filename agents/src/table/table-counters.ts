// What the translation table counts, for the control API.

export interface TableCounters {
  /** Pending entries created by start packets. */
  created: number;
  /** Start packets that found their pending or bound entry (same initial sequence number). */
  retransmittedSyns: number;
  /** Entries dropped because the client reused the key with a new initial sequence number. */
  replaced: number;
  wonByReplica: number;
  wonByOrigin: number;
  /** Acknowledgements from another address after the winner: the caller resets them. */
  lateAnswers: number;
  /** SYN+ACKs that do not acknowledge the entry's start packet. */
  unrelatedAnswers: number;
  /** Pending entries evicted to make room for new ones. */
  evicted: number;
  /** Start packets refused an entry: the table was full of established entries, or the client socket's chain was. */
  refused: number;
  /** Entries ended by an idle timeout. */
  expired: number;
  /** Entries ended by a RST. */
  reset: number;
  /** Pending entries ended by the origin's RST+ACK to the start packet (nothing listens on the port). */
  refusedByOrigin: number;
  /** Server segments ending past the client's advertised window: they do not move the RST check's number. */
  serverSegmentsBeyondWindow: number;
}

export function zeroCounters(): TableCounters {
  return {
    created: 0, retransmittedSyns: 0, replaced: 0, wonByReplica: 0, wonByOrigin: 0,
    lateAnswers: 0, unrelatedAnswers: 0, evicted: 0, refused: 0, expired: 0, reset: 0,
    refusedByOrigin: 0, serverSegmentsBeyondWindow: 0,
  };
}
