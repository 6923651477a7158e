// The reset a client gateway sends to a late answerer (protocol.md P500): it
// must carry seq = that acknowledgement's ack number, the only value the
// answerer's half-open connection accepts (RFC 793, reset generation).
import { computeIpv4HeaderChecksum, IPPROTO_TCP, IPV4_CHECKSUM_FIELD, IPV4_DF, IPV4_DST_FIELD, IPV4_MIN_HEADER_LENGTH, IPV4_SRC_FIELD } from './ipv4';
import { computeTcpChecksum, TCP_CHECKSUM_FIELD, TCP_MIN_HEADER_LENGTH, TcpFlag } from './tcp';

export interface RstSpec {
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
  seq: number;
}

const RST_TTL = 64;
const RST_LENGTH = IPV4_MIN_HEADER_LENGTH + TCP_MIN_HEADER_LENGTH;

/** A 40-byte IPv4+TCP segment with only RST set (no ACK: it answers an acknowledgement). */
export function buildRst(spec: RstSpec): Buffer {
  const packet = Buffer.alloc(RST_LENGTH);
  packet[0] = 0x45;
  packet.writeUInt16BE(RST_LENGTH, 2);
  // id 0 is fine with DF set (RFC 6864).
  packet.writeUInt16BE(IPV4_DF, 6);
  packet[8] = RST_TTL;
  packet[9] = IPPROTO_TCP;
  packet.writeUInt32BE(spec.src, IPV4_SRC_FIELD);
  packet.writeUInt32BE(spec.dst, IPV4_DST_FIELD);
  packet.writeUInt16BE(computeIpv4HeaderChecksum(packet, 0, IPV4_MIN_HEADER_LENGTH), IPV4_CHECKSUM_FIELD);
  const tcp = IPV4_MIN_HEADER_LENGTH;
  packet.writeUInt16BE(spec.srcPort, tcp);
  packet.writeUInt16BE(spec.dstPort, tcp + 2);
  packet.writeUInt32BE(spec.seq, tcp + 4);
  packet[tcp + 12] = (TCP_MIN_HEADER_LENGTH / 4) << 4;
  packet[tcp + 13] = TcpFlag.RST;
  packet.writeUInt16BE(computeTcpChecksum(packet, spec.src, spec.dst, tcp, RST_LENGTH), tcp + TCP_CHECKSUM_FIELD);
  return packet;
}
