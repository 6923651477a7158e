// The kernel stamps a received packet with its arrival time only while some socket has asked for receive
// timestamps (net_enable_timestamp, one switch for the whole machine). A queued packet's stamp
// (nfqueue.ts, receivedNs) is then when it reached the board, not when its agent woke up to read it.
import * as libc from './libc';

/** Keeps the kernel stamping received packets until the returned function is called. */
export function keepReceiveStampsOn(): () => void {
  const fd = libc.socket(libc.AF_INET, libc.SOCK_DGRAM | libc.SOCK_CLOEXEC, 0);
  if (fd < 0) throw libc.sysError('socket', 'AF_INET SOCK_DGRAM');
  try {
    libc.setIntOption(fd, libc.SOL_SOCKET, libc.SO_TIMESTAMPNS, 1, 'SO_TIMESTAMPNS');
  } catch (err) {
    libc.close(fd);
    throw err;
  }
  return () => libc.close(fd);
}
