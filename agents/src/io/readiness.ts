// Read-readiness notification for raw fds. The npm `epoll` addon waits in its
// own thread and wakes the event loop per event, so nothing here occupies the
// libuv threadpool and process exit is never held up by a pending read.
import { Epoll } from 'epoll';
import * as libc from './libc';

/** Calls `onReadable` whenever `fd` is readable (level-triggered). Returns the unwatch function. */
export function watchReadable(fd: number, onReadable: () => void): () => void {
  const poller = new Epoll((err) => {
    if (err) throw err;
    onReadable();
  });
  poller.add(fd, Epoll.EPOLLIN);
  return () => {
    poller.remove(fd).close();
  };
}

const MAX_PACKET = 65535;
// Packets handled per readiness event, so a flood cannot starve timers.
const DRAIN_BUDGET = 512;

/**
 * Delivers each packet read from a non-blocking fd as a private copy, draining until EAGAIN (or the budget)
 * at every readiness event. `read` returns the byte count, or < 0 with errno set. Returns the stop function.
 */
export function watchPackets(fd: number, read: (into: Buffer) => number, onPacket: (packet: Buffer) => void, what: string): () => void {
  const rx = Buffer.allocUnsafe(MAX_PACKET);
  let stopped = false;
  const unwatch = watchReadable(fd, () => {
    for (let i = 0; i < DRAIN_BUDGET && !stopped; i++) {
      const n = read(rx);
      if (n < 0) {
        if (libc.errno() === libc.EAGAIN) return;
        throw libc.sysError('read', what);
      }
      onPacket(Buffer.from(rx.subarray(0, n)));
    }
  });
  return () => {
    stopped = true;
    unwatch();
  };
}
