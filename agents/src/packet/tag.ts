// The synrace tag (protocol.md "Words"): a TCP option on the start packet saying
// whether the connection may be redirected to a replica. RFC 6994 shared
// experimental option: kind 253, length 5, a 16-bit experiment id, one verdict byte.
import { onesComplementSum, updateChecksum16 } from './checksum';
import { IPV4_CHECKSUM_FIELD, type Ipv4View } from './ipv4';
import type { Rebuilt } from './rebuilt';
import { TCP_CHECKSUM_FIELD, TCP_MAX_HEADER_LENGTH, type TcpView } from './tcp';
import { TcpOptionCursor, TcpOptionKind } from './tcp-options';

/** "SR". RFC 6994 asks for a registered id; unregistered ones only collide with other experiments. */
export const TAG_EXPERIMENT_ID = 0x5352;
const TAG_OPTION_LENGTH = 5;
const TAG_VERDICT_AT = 4;
// Three NOPs in front keep the grown option list a multiple of 4 bytes long.
export const TAG_BLOCK_LENGTH = 8;
const VERDICT_PERMISSIBLE = 1;
const VERDICT_NOT_PERMISSIBLE = 0;

export type TagReading = 'permissible' | 'not-permissible' | 'absent' | 'malformed';
export type TagRefusal = 'no-option-space' | 'malformed-options' | 'already-tagged' | 'packet-too-long';

const cursor = new TcpOptionCursor();

// Any 253 option with our id is the tag, even a misshapen one: a shorter or
// longer option with our id is a broken tag, not someone else's experiment.
function cursorIsOnTag(buf: Buffer): boolean {
  return cursor.kind === TcpOptionKind.EXPERIMENT && cursor.length >= 4 && buf.readUInt16BE(cursor.offset + 2) === TAG_EXPERIMENT_ID;
}

export function readTag(buf: Buffer, tcp: TcpView): TagReading {
  cursor.start(buf, tcp);
  for (;;) {
    const step = cursor.step();
    if (step === 'end') return 'absent';
    if (step === 'malformed') return 'malformed';
    if (!cursorIsOnTag(buf)) continue;
    if (cursor.length !== TAG_OPTION_LENGTH) return 'malformed';
    const verdict = buf[cursor.offset + TAG_VERDICT_AT];
    if (verdict === VERDICT_PERMISSIBLE) return 'permissible';
    if (verdict === VERDICT_NOT_PERMISSIBLE) return 'not-permissible';
    return 'malformed';
  }
}

/**
 * Overwrites every tag option (any 253 option with our id, whatever its length) with NOPs, in place, with
 * an incremental checksum update: a tag a client host wrote on its own SYN must not reach the switch.
 * Options after a damaged length byte are invisible to readTag too, so they are left alone.
 * Returns how many options were removed.
 */
export function stripTags(buf: Buffer, tcp: TcpView): number {
  let removed = 0;
  let before = 0;
  cursor.start(buf, tcp);
  for (let step = cursor.step(); step === 'option'; step = cursor.step()) {
    if (!cursorIsOnTag(buf)) continue;
    // The whole header's sum, taken once before the first change: the checksum field counts on both sides.
    if (removed === 0) before = onesComplementSum(buf, tcp.offset, tcp.payloadOffset);
    buf.fill(TcpOptionKind.NOP, cursor.offset, cursor.offset + cursor.length);
    removed++;
  }
  if (removed > 0) {
    const checksumAt = tcp.offset + TCP_CHECKSUM_FIELD;
    buf.writeUInt16BE(updateChecksum16(buf.readUInt16BE(checksumAt), before, onesComplementSum(buf, tcp.offset, tcp.payloadOffset)), checksumAt);
  }
  return removed;
}

function writeTagBlock(out: Buffer, at: number, permissible: boolean): void {
  out.fill(TcpOptionKind.NOP, at, at + 3);
  out[at + 3] = TcpOptionKind.EXPERIMENT;
  out[at + 4] = TAG_OPTION_LENGTH;
  out.writeUInt16BE(TAG_EXPERIMENT_ID, at + 5);
  out[at + 7] = permissible ? VERDICT_PERMISSIBLE : VERDICT_NOT_PERMISSIBLE;
}

/**
 * A copy of the packet with the tag added where the option list ends (before an
 * EOL, which would hide it otherwise), bytes in front of the IPv4 header kept.
 * Both checksums are updated incrementally, so a segment that arrived with a
 * bad checksum still fails at its receiver instead of being laundered.
 * A packet that already carries a tag is refused: the caller decides whether
 * to trust a tag it did not set.
 */
export function addTag(buf: Buffer, ip: Ipv4View, tcp: TcpView, permissible: boolean): Rebuilt<TagRefusal> {
  cursor.start(buf, tcp);
  for (let step = cursor.step(); step !== 'end'; step = cursor.step()) {
    if (step === 'malformed') return { ok: false, reason: 'malformed-options' };
    if (cursorIsOnTag(buf)) return { ok: false, reason: 'already-tagged' };
  }
  const listEnd = cursor.listEnd;
  const newHeaderLength = Math.ceil((listEnd - tcp.offset + TAG_BLOCK_LENGTH) / 4) * 4;
  if (newHeaderLength > TCP_MAX_HEADER_LENGTH) return { ok: false, reason: 'no-option-space' };
  const growth = newHeaderLength - tcp.headerLength;
  const newTotalLength = ip.totalLength + growth;
  if (newTotalLength > 0xffff) return { ok: false, reason: 'packet-too-long' };

  const packetEnd = ip.offset + ip.totalLength;
  const out = Buffer.allocUnsafe(ip.offset + newTotalLength);
  buf.copy(out, 0, 0, listEnd);
  writeTagBlock(out, listEnd, permissible);
  const newPayloadOffset = tcp.offset + newHeaderLength;
  out.fill(TcpOptionKind.EOL, listEnd + TAG_BLOCK_LENGTH, newPayloadOffset);
  buf.copy(out, newPayloadOffset, tcp.payloadOffset, packetEnd);

  out.writeUInt16BE(newTotalLength, ip.offset + 2);
  out.writeUInt16BE(updateChecksum16(buf.readUInt16BE(ip.offset + IPV4_CHECKSUM_FIELD), ip.totalLength, newTotalLength), ip.offset + IPV4_CHECKSUM_FIELD);
  out[tcp.offset + 12] = ((newHeaderLength / 4) << 4) | (buf[tcp.offset + 12] & 0x0f);
  // The payload moved by a multiple of 4, so its words sum as before: only the
  // header (old checksum still in place on both sides) and the pseudo-header
  // length changed.
  const checksumAt = tcp.offset + TCP_CHECKSUM_FIELD;
  const oldSegmentLength = ip.totalLength - ip.headerLength;
  let checksum = updateChecksum16(
    buf.readUInt16BE(checksumAt),
    onesComplementSum(buf, tcp.offset, tcp.payloadOffset),
    onesComplementSum(out, tcp.offset, newPayloadOffset),
  );
  checksum = updateChecksum16(checksum, oldSegmentLength, oldSegmentLength + growth);
  out.writeUInt16BE(checksum, checksumAt);
  return { ok: true, packet: out };
}
