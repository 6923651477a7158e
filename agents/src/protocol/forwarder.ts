// The agents' own forwarding plane for the packets their steering rules take
// away from the kernel: one raw IPv4 socket, the kernel still routes.
import { openRawIpSocket, type RawIpSocket } from '../io/raw-ip-socket';
import { IPPROTO_RAW } from '../io/libc';
import { updateChecksum16, type Ipv4View } from '../packet';
import type { Counters } from './counters';

export class Forwarder {
  private readonly socket: RawIpSocket;

  /** `mark`: SO_MARK for policy routing to recognise the agent's own packets. */
  constructor(private readonly counters: Counters, mark?: number) {
    this.socket = openRawIpSocket(IPPROTO_RAW, mark);
  }

  /** Forwards as a router would: TTL down by one (incremental checksum), expired packets dropped. */
  forward(buf: Buffer, ip: Ipv4View): void {
    if (ip.ttl <= 1) {
      this.counters.add('dropped-ttl-expired');
      return;
    }
    const at = ip.offset + 8;
    const oldWord = buf.readUInt16BE(at);
    buf[at] = ip.ttl - 1;
    ip.ttl -= 1;
    const checksumAt = ip.offset + 10;
    buf.writeUInt16BE(updateChecksum16(buf.readUInt16BE(checksumAt), oldWord, buf.readUInt16BE(at)), checksumAt);
    this.send(buf.subarray(ip.offset, ip.offset + ip.totalLength), ip.dst);
  }

  /** Sends a packet this agent originated (a RST, an encapsulated copy) as is. */
  send(packet: Buffer, dst: number): void {
    const sent = this.socket.sendTo(packet, dst);
    if (sent !== true) this.counters.add(`dropped-send-${sent}`);
  }

  close(): void {
    this.socket.close();
  }
}
