// Walks the TCP option list of a parsed segment. One cursor is reused for every
// packet, so walking allocates nothing, and a damaged list is reported as a
// step result rather than thrown.
import { TCP_MIN_HEADER_LENGTH, type TcpView } from './tcp';

export const TcpOptionKind = { EOL: 0, NOP: 1, MSS: 2, WINDOW_SCALE: 3, EXPERIMENT: 253 } as const;

/**
 * 'option': kind/offset/length describe the next option. 'end': the list is
 * over (EOL or end of header). 'malformed': a length byte is missing, below 2
 * or runs past the header; the cursor stays there.
 */
export type OptionStep = 'option' | 'end' | 'malformed';

export class TcpOptionCursor {
  kind = 0;
  /** Absolute offset of the current option's kind byte. */
  offset = 0;
  /** The current option's length byte: kind and length bytes included. */
  length = 0;
  private buf: Buffer = Buffer.alloc(0);
  private next = 0;
  private end = 0;

  start(buf: Buffer, tcp: TcpView): void {
    this.buf = buf;
    this.next = tcp.offset + TCP_MIN_HEADER_LENGTH;
    this.end = tcp.offset + tcp.headerLength;
  }

  step(): OptionStep {
    const { buf, end } = this;
    while (this.next < end && buf[this.next] === TcpOptionKind.NOP) this.next++;
    if (this.next >= end || buf[this.next] === TcpOptionKind.EOL) return 'end';
    const at = this.next;
    if (at + 1 >= end) return 'malformed';
    const length = buf[at + 1];
    if (length < 2 || at + length > end) return 'malformed';
    this.kind = buf[at];
    this.offset = at;
    this.length = length;
    this.next = at + length;
    return 'option';
  }

  /**
   * After step() returned 'end': where the meaningful list stops, i.e. the EOL
   * byte, or the end of the header when there is none. Bytes from here on are padding.
   */
  get listEnd(): number {
    return this.next;
  }
}

const scaleCursor = new TcpOptionCursor();

/** The window scale shift a SYN or SYN+ACK offers (RFC 7323, capped at 14), or -1 when it offers none. */
export function readWindowScale(buf: Buffer, tcp: TcpView): number {
  scaleCursor.start(buf, tcp);
  while (scaleCursor.step() === 'option') {
    if (scaleCursor.kind === TcpOptionKind.WINDOW_SCALE && scaleCursor.length === 3) return Math.min(14, buf[scaleCursor.offset + 2]);
  }
  return -1;
}
