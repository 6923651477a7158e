// Raw IPv4 sockets: sending whole packets we built (IPPROTO_RAW implies IP_HDRINCL,
// so the kernel routes them by destination and keeps our header as written), and
// receiving one protocol the local stack has no handler for (IPIP: there is no
// kernel tunnel driver here, and an open raw socket also stops the kernel from
// answering such packets with ICMP protocol-unreachable).
import * as libc from './libc';
import { watchPackets } from './readiness';

export interface RawIpSocket {
  /**
   * Routes `packet` (a complete IPv4 packet) towards `dst`. Returns true, or the errno name of why the
   * kernel refused it (ENOBUFS, EMSGSIZE, ENETUNREACH...): on the per-packet path a refusal is counted, never thrown.
   */
  sendTo(packet: Buffer, dst: number): true | string;
  /** Delivers each received packet (IPv4 header included) as a private copy. */
  onPacket(cb: (packet: Buffer) => void): void;
  close(): void;
}

/** `mark` sets SO_MARK on what the socket sends, so policy routing can tell the agent's packets from the stack's. */
export function openRawIpSocket(protocol: number, mark?: number): RawIpSocket {
  const fd = libc.socket(libc.AF_INET, libc.SOCK_RAW | libc.SOCK_NONBLOCK | libc.SOCK_CLOEXEC, protocol);
  if (fd < 0) throw libc.sysError('socket', `raw IPv4 protocol ${protocol}`);
  if (mark !== undefined) {
    const value = Buffer.alloc(4);
    value.writeUInt32LE(mark);
    if (libc.setsockopt(fd, libc.SOL_SOCKET, libc.SO_MARK, value, 4) < 0) {
      libc.close(fd);
      throw libc.sysError('setsockopt', 'SO_MARK');
    }
  }
  const addr = Buffer.alloc(16); // struct sockaddr_in
  addr.writeUInt16LE(libc.AF_INET, 0);
  let unwatch: (() => void) | undefined;
  let closed = false;
  return {
    sendTo(packet, dst) {
      addr.writeUInt32BE(dst >>> 0, 4);
      if (libc.sendto(fd, packet, packet.length, libc.MSG_DONTWAIT, addr, 16) >= 0) return true;
      return String(libc.sysError('sendto').code);
    },
    onPacket(cb) {
      unwatch?.();
      unwatch = watchPackets(fd, (into) => libc.recv(fd, into, into.length, libc.MSG_DONTWAIT), cb, `raw IPv4 protocol ${protocol}`);
    },
    close() {
      if (closed) return;
      closed = true;
      unwatch?.();
      libc.close(fd);
    },
  };
}
