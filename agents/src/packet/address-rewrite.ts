// In-place address translation (protocol.md configuration A): rewrites an IPv4
// address and fixes the IPv4 and, for TCP, the pseudo-header-covered TCP
// checksum incrementally (RFC 1624), without touching the payload.
import { updateChecksum32 } from './checksum';
import { IPPROTO_TCP, IPV4_CHECKSUM_FIELD, IPV4_DST_FIELD, IPV4_SRC_FIELD, type Ipv4View } from './ipv4';
import { TCP_CHECKSUM_FIELD } from './tcp';

function rewriteAddress(buf: Buffer, ip: Ipv4View, field: number, address: number): void {
  const at = ip.offset + field;
  const old = buf.readUInt32BE(at);
  buf.writeUInt32BE(address, at);
  const ipChecksumAt = ip.offset + IPV4_CHECKSUM_FIELD;
  buf.writeUInt16BE(updateChecksum32(buf.readUInt16BE(ipChecksumAt), old, address), ipChecksumAt);
  // A segment too short to hold its checksum is forwarded as damaged as it came.
  if (ip.protocol !== IPPROTO_TCP || ip.totalLength - ip.headerLength < TCP_CHECKSUM_FIELD + 2) return;
  const tcpChecksumAt = ip.payloadOffset + TCP_CHECKSUM_FIELD;
  buf.writeUInt16BE(updateChecksum32(buf.readUInt16BE(tcpChecksumAt), old, address), tcpChecksumAt);
}

/** Rewrites the source of a packet whose header parsed 'ok'; the view follows. */
export function setSrc(buf: Buffer, ip: Ipv4View, address: number): void {
  rewriteAddress(buf, ip, IPV4_SRC_FIELD, address);
  ip.src = address;
}

/** Rewrites the destination of a packet whose header parsed 'ok'; the view follows. */
export function setDst(buf: Buffer, ip: Ipv4View, address: number): void {
  rewriteAddress(buf, ip, IPV4_DST_FIELD, address);
  ip.dst = address;
}
