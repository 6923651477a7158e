// IPv4 header parsing into a reusable view: the per-packet path parses every
// frame, so nothing here allocates.
import { internetChecksum, onesComplementSum } from './checksum';

export const IPPROTO_IPIP = 4;
export const IPPROTO_TCP = 6;
export const IPV4_MIN_HEADER_LENGTH = 20;
/** Offset of the header checksum inside the IPv4 header. */
export const IPV4_CHECKSUM_FIELD = 10;
export const IPV4_SRC_FIELD = 12;
export const IPV4_DST_FIELD = 16;
export const IPV4_DF = 0x4000;
const IPV4_MF = 0x2000;

/** Offsets are absolute in the parsed buffer, so a frame's link header can stay in front. */
export interface Ipv4View {
  offset: number;
  headerLength: number;
  totalLength: number;
  protocol: number;
  src: number;
  dst: number;
  ttl: number;
  id: number;
  df: boolean;
  mf: boolean;
  /** In bytes (the header field times 8). */
  fragmentOffset: number;
  payloadOffset: number;
}

/**
 * 'fragment' is a refusal, not damage: the agents never reassemble (nothing in
 * the protocol may rely on fragmentation), yet the view is filled so the caller
 * can count or forward it.
 */
export type Ipv4Status = 'ok' | 'truncated' | 'bad-version' | 'bad-header-length' | 'bad-checksum' | 'length-mismatch' | 'fragment';

export function createIpv4View(): Ipv4View {
  return {
    offset: 0, headerLength: 0, totalLength: 0, protocol: 0, src: 0, dst: 0,
    ttl: 0, id: 0, df: false, mf: false, fragmentOffset: 0, payloadOffset: 0,
  };
}

/**
 * Parses and validates the IPv4 header at `offset`, reading no byte at or past
 * `end`. Bytes after the total length are allowed (Ethernet pads short frames).
 * `out` is meaningful when the status is 'ok' or 'fragment'.
 */
export function parseIpv4(buf: Buffer, offset: number, out: Ipv4View, end = buf.length): Ipv4Status {
  if (!(offset >= 0) || end > buf.length || offset + IPV4_MIN_HEADER_LENGTH > end) return 'truncated';
  const versionAndIhl = buf[offset];
  if (versionAndIhl >> 4 !== 4) return 'bad-version';
  const headerLength = (versionAndIhl & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER_LENGTH) return 'bad-header-length';
  if (offset + headerLength > end) return 'truncated';
  if (onesComplementSum(buf, offset, offset + headerLength) !== 0xffff) return 'bad-checksum';
  const totalLength = buf.readUInt16BE(offset + 2);
  if (totalLength < headerLength || offset + totalLength > end) return 'length-mismatch';
  const flagsAndFragment = buf.readUInt16BE(offset + 6);
  out.offset = offset;
  out.headerLength = headerLength;
  out.totalLength = totalLength;
  out.id = buf.readUInt16BE(offset + 4);
  out.df = (flagsAndFragment & IPV4_DF) !== 0;
  out.mf = (flagsAndFragment & IPV4_MF) !== 0;
  out.fragmentOffset = (flagsAndFragment & 0x1fff) * 8;
  out.ttl = buf[offset + 8];
  out.protocol = buf[offset + 9];
  out.src = buf.readUInt32BE(offset + IPV4_SRC_FIELD);
  out.dst = buf.readUInt32BE(offset + IPV4_DST_FIELD);
  out.payloadOffset = offset + headerLength;
  return out.mf || out.fragmentOffset > 0 ? 'fragment' : 'ok';
}

/** The header checksum computed from scratch, whatever the field holds now. */
export function computeIpv4HeaderChecksum(buf: Buffer, offset: number, headerLength: number): number {
  const checksumAt = offset + IPV4_CHECKSUM_FIELD;
  const beforeField = onesComplementSum(buf, offset, checksumAt);
  return internetChecksum(buf, checksumAt + 2, offset + headerLength, beforeField);
}
