// TCP header parsing into a reusable view, and the checksum over the IPv4
// pseudo-header.
import { internetChecksum, onesComplementSum } from './checksum';
import { IPPROTO_TCP, type Ipv4View } from './ipv4';

export const TCP_MIN_HEADER_LENGTH = 20;
/** Offset of the checksum inside the TCP header. */
export const TCP_CHECKSUM_FIELD = 16;
export const TCP_MAX_HEADER_LENGTH = 60;

export const TcpFlag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

export interface TcpView {
  /** Absolute offset of the TCP header in the buffer (the IPv4 payload offset). */
  offset: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Header length in bytes, options included (the data offset field times 4). */
  headerLength: number;
  /** The whole flags byte; test bits with TcpFlag. */
  flags: number;
  window: number;
  payloadOffset: number;
  payloadLength: number;
}

export type TcpStatus = 'ok' | 'not-tcp' | 'truncated' | 'bad-data-offset';

export function createTcpView(): TcpView {
  return { offset: 0, srcPort: 0, dstPort: 0, seq: 0, ack: 0, headerLength: 0, flags: 0, window: 0, payloadOffset: 0, payloadLength: 0 };
}

/**
 * Parses the TCP header carried by a packet whose IPv4 header parsed 'ok'.
 * The checksum is not checked here: verifying costs a pass over the payload,
 * which a forwarder that rewrites incrementally does not need.
 */
export function parseTcp(buf: Buffer, ip: Ipv4View, out: TcpView): TcpStatus {
  if (ip.protocol !== IPPROTO_TCP) return 'not-tcp';
  const start = ip.payloadOffset;
  const segmentLength = ip.totalLength - ip.headerLength;
  if (segmentLength < TCP_MIN_HEADER_LENGTH) return 'truncated';
  const headerLength = (buf[start + 12] >> 4) * 4;
  if (headerLength < TCP_MIN_HEADER_LENGTH || headerLength > segmentLength) return 'bad-data-offset';
  out.offset = start;
  out.srcPort = buf.readUInt16BE(start);
  out.dstPort = buf.readUInt16BE(start + 2);
  out.seq = buf.readUInt32BE(start + 4);
  out.ack = buf.readUInt32BE(start + 8);
  out.headerLength = headerLength;
  out.flags = buf[start + 13];
  out.window = buf.readUInt16BE(start + 14);
  out.payloadOffset = start + headerLength;
  out.payloadLength = segmentLength - headerLength;
  return 'ok';
}

function pseudoHeaderSum(src: number, dst: number, segmentLength: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + IPPROTO_TCP + segmentLength;
}

/** True when the TCP checksum of a parsed IPv4 packet carrying TCP is right. */
export function verifyTcpChecksum(buf: Buffer, ip: Ipv4View): boolean {
  if (ip.protocol !== IPPROTO_TCP) return false;
  const segmentLength = ip.totalLength - ip.headerLength;
  if (segmentLength < TCP_MIN_HEADER_LENGTH) return false;
  const pseudo = pseudoHeaderSum(ip.src, ip.dst, segmentLength);
  return onesComplementSum(buf, ip.payloadOffset, ip.payloadOffset + segmentLength, pseudo) === 0xffff;
}

/** The TCP checksum of buf[start, end) computed from scratch, whatever the field holds now. */
export function computeTcpChecksum(buf: Buffer, src: number, dst: number, start: number, end: number): number {
  const checksumAt = start + TCP_CHECKSUM_FIELD;
  const beforeField = onesComplementSum(buf, start, checksumAt, pseudoHeaderSum(src, dst, end - start));
  return internetChecksum(buf, checksumAt + 2, end, beforeField);
}
