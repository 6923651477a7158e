// The kernel stamps a received packet with its arrival time only while some socket has asked for receive
// timestamps (net_enable_timestamp, one switch for the whole machine). A queued packet's stamp
// (nfqueue.ts, receivedNs) is then when it reached the board, not when its agent woke up to read it.
import * as libc from './libc';

/** Keeps the kernel stamping received packets until the returned function is called. */
export function keepReceiveStampsOn(): () => void {
  const fd = libc.socket(libc.AF_INET, libc.SOCK_DGRAM | libc.SOCK_CLOEXEC, 0);
  if (fd < 0) throw libc.sysError('socket', 'AF_INET SOCK_DGRAM');
  const on = Buffer.alloc(4);
  on.writeInt32LE(1);
  if (libc.setsockopt(fd, libc.SOL_SOCKET, libc.SO_TIMESTAMPNS, on, 4) < 0) {
    const err = libc.sysError('setsockopt', 'SO_TIMESTAMPNS');
    libc.close(fd);
    throw err;
  }
  return () => libc.close(fd);
}
