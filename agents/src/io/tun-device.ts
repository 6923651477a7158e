// A TUN device: the local stack's own packets, steered here by policy routing,
// come up to the agent as whole IPv4 packets (no link header, IFF_NO_PI).
import { openSync } from 'node:fs';
import * as libc from './libc';
import { watchPackets } from './readiness';

export interface TunDevice {
  readonly name: string;
  onPacket(cb: (packet: Buffer) => void): void;
  close(): void;
}

export function openTunDevice(name: string): TunDevice {
  // O_NONBLOCK (04000) so the drain loop stops at EAGAIN instead of blocking the event loop.
  const fd = openSync('/dev/net/tun', 2 | 0o4000);
  const ifreq = Buffer.alloc(40);
  ifreq.write(name, 0, 15, 'ascii');
  ifreq.writeUInt16LE(libc.IFF_TUN | libc.IFF_NO_PI, 16);
  if (libc.ioctl(fd, libc.TUNSETIFF, ifreq) < 0) {
    libc.close(fd);
    throw libc.sysError('ioctl', `TUNSETIFF ${name}`);
  }
  let unwatch: (() => void) | undefined;
  let closed = false;
  return {
    name,
    onPacket(cb) {
      unwatch?.();
      unwatch = watchPackets(fd, (into) => libc.read(fd, into, into.length), cb, `tun ${name}`);
    },
    close() {
      if (closed) return;
      closed = true;
      unwatch?.();
      libc.close(fd);
    },
  };
}
