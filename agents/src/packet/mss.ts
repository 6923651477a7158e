// MSS clamping on start packets: encapsulation adds 20 bytes, and nothing in
// the protocol may rely on fragmentation (protocol.md, MTU).
import { updateChecksum16 } from './checksum';
import { TCP_CHECKSUM_FIELD, type TcpView } from './tcp';
import { TcpOptionCursor, TcpOptionKind } from './tcp-options';

export const MSS_OPTION_LENGTH = 4;
const cursor = new TcpOptionCursor();

const swapBytes = (word: number): number => ((word & 0xff) << 8) | (word >> 8);

/**
 * Lowers every MSS option above `maxMss` (0..65535) to it, in place, with an
 * incremental checksum update. Every one, because receivers honour the last.
 * A segment without an MSS option needs nothing: its peer assumes 536.
 * Returns whether a byte changed.
 */
export function clampMss(buf: Buffer, tcp: TcpView, maxMss: number): boolean {
  let changed = false;
  cursor.start(buf, tcp);
  while (cursor.step() === 'option') {
    if (cursor.kind !== TcpOptionKind.MSS || cursor.length !== MSS_OPTION_LENGTH) continue;
    const valueAt = cursor.offset + 2;
    const mss = buf.readUInt16BE(valueAt);
    if (mss <= maxMss) continue;
    buf.writeUInt16BE(maxMss, valueAt);
    // Options need no alignment. At an odd offset the value straddles two
    // checksum words and counts byte-swapped in the one's complement sum.
    const odd = ((valueAt - tcp.offset) & 1) === 1;
    const checksumAt = tcp.offset + TCP_CHECKSUM_FIELD;
    const checksum = buf.readUInt16BE(checksumAt);
    buf.writeUInt16BE(odd ? updateChecksum16(checksum, swapBytes(mss), swapBytes(maxMss)) : updateChecksum16(checksum, mss, maxMss), checksumAt);
    changed = true;
  }
  return changed;
}
