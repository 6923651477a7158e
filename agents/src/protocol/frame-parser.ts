// Classifies an Ethernet frame into the views the roles act on, parsing each
// header once into reusable views (no allocation per packet).
import { createIpv4View, createTcpView, IPPROTO_IPIP, IPPROTO_TCP, parseIpv4, parseTcp, type Ipv4View, type TcpView } from '../packet';

export const ETH_HEADER_BYTES = 14;
const ETHERTYPE_IPV4 = 0x0800;

/**
 * tcp: a whole TCP segment; tcp-fragment: the first fragment of a TCP packet, ports readable;
 * ipip: an IPv4-in-IPv4 packet; other: anything the agents leave to the kernel;
 * malformed: an IPv4 packet the kernel would drop too (the reason is in `problem`).
 */
export type FrameKind = 'tcp' | 'tcp-fragment' | 'ipip' | 'other' | 'malformed';

export class FrameParser {
  readonly ip: Ipv4View = createIpv4View();
  readonly tcp: TcpView = createTcpView();
  problem = '';

  parse(frame: Buffer): FrameKind {
    if (frame.length < ETH_HEADER_BYTES || frame.readUInt16BE(12) !== ETHERTYPE_IPV4) return 'other';
    const status = parseIpv4(frame, ETH_HEADER_BYTES, this.ip);
    if (status === 'fragment') {
      // Only a first fragment carries the ports; later ones are the kernel's to forward.
      if (this.ip.protocol !== IPPROTO_TCP || this.ip.fragmentOffset !== 0) return 'other';
      return parseTcp(frame, this.ip, this.tcp) === 'ok' ? 'tcp-fragment' : 'other';
    }
    if (status !== 'ok') {
      this.problem = `ipv4-${status}`;
      return 'malformed';
    }
    if (this.ip.protocol === IPPROTO_IPIP) return 'ipip';
    if (this.ip.protocol !== IPPROTO_TCP) return 'other';
    const tcpStatus = parseTcp(frame, this.ip, this.tcp);
    if (tcpStatus !== 'ok') {
      this.problem = `tcp-${tcpStatus}`;
      return 'malformed';
    }
    return 'tcp';
  }
}
