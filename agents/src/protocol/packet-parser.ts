// Classifies a steered IPv4 packet into the views the roles act on, parsing each header once into
// reusable views (no allocation per packet). The queue hands over packets from the IPv4 header on.
import { createIpv4View, createTcpView, IPPROTO_IPIP, IPPROTO_TCP, parseIpv4, parseTcp, type Ipv4View, type TcpView } from '../packet';

/**
 * tcp: a whole TCP segment; tcp-fragment: the first fragment of a TCP packet, ports readable;
 * ipip: an IPv4-in-IPv4 packet; other: anything the agents leave to the kernel;
 * malformed: a packet the agents refuse (the reason is in `problem`).
 */
export type PacketKind = 'tcp' | 'tcp-fragment' | 'ipip' | 'other' | 'malformed';

export class PacketParser {
  readonly ip: Ipv4View = createIpv4View();
  readonly tcp: TcpView = createTcpView();
  problem = '';

  parse(packet: Buffer): PacketKind {
    const status = parseIpv4(packet, 0, this.ip);
    if (status === 'fragment') {
      // Only a first fragment carries the ports; later ones are the kernel's to forward.
      if (this.ip.protocol !== IPPROTO_TCP || this.ip.fragmentOffset !== 0) return 'other';
      return parseTcp(packet, this.ip, this.tcp) === 'ok' ? 'tcp-fragment' : 'other';
    }
    if (status !== 'ok') {
      this.problem = `ipv4-${status}`;
      return 'malformed';
    }
    if (this.ip.protocol === IPPROTO_IPIP) return 'ipip';
    if (this.ip.protocol !== IPPROTO_TCP) return 'other';
    const tcpStatus = parseTcp(packet, this.ip, this.tcp);
    if (tcpStatus !== 'ok') {
      this.problem = `tcp-${tcpStatus}`;
      return 'malformed';
    }
    return 'tcp';
  }
}
