// IPv4-in-IPv4 (RFC 2003, protocol 4): the switch fans start packets out to
// replicas inside it, and configurations B and C carry answers in it.
import { randomInt } from 'node:crypto';
import { computeIpv4HeaderChecksum, IPPROTO_IPIP, IPV4_CHECKSUM_FIELD, IPV4_DF, IPV4_DST_FIELD, IPV4_MIN_HEADER_LENGTH, IPV4_SRC_FIELD, parseIpv4, type Ipv4Status, type Ipv4View } from './ipv4';
import type { Rebuilt } from './rebuilt';

const OUTER_TTL = 64;
// RFC 6864 only needs ids unique per (src, dst, protocol) while fragments may
// live; a counter from a random start never repeats within 65536 packets.
let nextId = randomInt(0x10000);

/**
 * A copy with an outer header in front of the inner IPv4 packet (which must
 * have parsed 'ok'); bytes before the inner header are kept in front, so a
 * frame keeps its link header. TOS is copied (RFC 2003 3.1), DF too (protocol.md).
 */
export function encapsulate(buf: Buffer, inner: Ipv4View, outerSrc: number, outerDst: number): Rebuilt<'packet-too-long'> {
  const totalLength = inner.totalLength + IPV4_MIN_HEADER_LENGTH;
  if (totalLength > 0xffff) return { ok: false, reason: 'packet-too-long' };
  const at = inner.offset;
  const out = Buffer.allocUnsafe(at + totalLength);
  buf.copy(out, 0, 0, at);
  out[at] = 0x45;
  out[at + 1] = buf[at + 1];
  out.writeUInt16BE(totalLength, at + 2);
  out.writeUInt16BE(nextId, at + 4);
  nextId = (nextId + 1) & 0xffff;
  out.writeUInt16BE(inner.df ? IPV4_DF : 0, at + 6);
  out[at + 8] = OUTER_TTL;
  out[at + 9] = IPPROTO_IPIP;
  out.writeUInt32BE(outerSrc, at + IPV4_SRC_FIELD);
  out.writeUInt32BE(outerDst, at + IPV4_DST_FIELD);
  out.writeUInt16BE(computeIpv4HeaderChecksum(out, at, IPV4_MIN_HEADER_LENGTH), at + IPV4_CHECKSUM_FIELD);
  buf.copy(out, at + IPV4_MIN_HEADER_LENGTH, at, at + inner.totalLength);
  return { ok: true, packet: out };
}

/**
 * Cracks a parsed outer packet: validates the inner packet, which must fill the
 * outer payload exactly, into `inner`. The inner packet is then
 * buf.subarray(inner.offset, inner.offset + inner.totalLength); the outer
 * header's bytes in front of it are free for a new link header.
 */
export function crack(buf: Buffer, outer: Ipv4View, inner: Ipv4View): Ipv4Status | 'not-ipip' {
  if (outer.protocol !== IPPROTO_IPIP) return 'not-ipip';
  const outerEnd = outer.offset + outer.totalLength;
  const status = parseIpv4(buf, outer.payloadOffset, inner, outerEnd);
  if (status === 'ok' && inner.offset + inner.totalLength !== outerEnd) return 'length-mismatch';
  return status;
}
