// Raw IPv4 sockets: sending whole packets we built (IPPROTO_RAW implies IP_HDRINCL,
// so the kernel routes them by destination and keeps our header as written), and
// receiving one protocol the local stack has no handler for (IPIP: there is no
// kernel tunnel driver here, and an open raw socket also stops the kernel from
// answering such packets with ICMP protocol-unreachable).
import * as libc from './libc';
import { watchReadable } from './readiness';

export interface RawIpSocket {
  /** Routes `packet` (a complete IPv4 packet) towards `dst`; false when the kernel had no buffer room. */
  sendTo(packet: Buffer, dst: number): boolean;
  /** Delivers each received packet (IPv4 header included) as a private copy. */
  onPacket(cb: (packet: Buffer) => void): void;
  close(): void;
}

const MAX_PACKET = 65535;
const DRAIN_BUDGET = 512;

export function openRawIpSocket(protocol: number): RawIpSocket {
  const fd = libc.socket(libc.AF_INET, libc.SOCK_RAW | libc.SOCK_NONBLOCK | libc.SOCK_CLOEXEC, protocol);
  if (fd < 0) throw libc.sysError('socket', `raw IPv4 protocol ${protocol}`);
  const addr = Buffer.alloc(16); // struct sockaddr_in
  addr.writeUInt16LE(libc.AF_INET, 0);
  const rx = Buffer.allocUnsafe(MAX_PACKET);
  let unwatch: (() => void) | undefined;
  let closed = false;
  return {
    sendTo(packet, dst) {
      addr.writeUInt32BE(dst >>> 0, 4);
      if (libc.sendto(fd, packet, packet.length, libc.MSG_DONTWAIT, addr, 16) >= 0) return true;
      const code = libc.errno();
      if (code === libc.EAGAIN || code === libc.ENOBUFS) return false;
      throw libc.sysError('sendto', `raw IPv4 protocol ${protocol}`);
    },
    onPacket(cb) {
      unwatch?.();
      unwatch = watchReadable(fd, () => {
        for (let i = 0; i < DRAIN_BUDGET && !closed; i++) {
          const n = libc.recv(fd, rx, rx.length, libc.MSG_DONTWAIT);
          if (n < 0) {
            if (libc.errno() === libc.EAGAIN) return;
            throw libc.sysError('recv', `raw IPv4 protocol ${protocol}`);
          }
          cb(Buffer.from(rx.subarray(0, n)));
        }
      });
    },
    close() {
      if (closed) return;
      closed = true;
      unwatch?.();
      libc.close(fd);
    },
  };
}
