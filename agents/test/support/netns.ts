// Runs code with the calling thread switched into a named network namespace,
// so one process can own sockets in several namespaces. Only the main thread
// moves, and sockets stay in the namespace they were created in.
import { closeSync, openSync } from 'node:fs';
import * as libc from '../../src/io/libc';

export function inNetns<T>(name: string, fn: () => T): T {
  const home = openSync('/proc/thread-self/ns/net', 'r');
  const target = openSync(`/run/netns/${name}`, 'r');
  try {
    if (libc.setns(target, libc.CLONE_NEWNET) < 0) throw libc.sysError('setns', name);
    try {
      return fn();
    } finally {
      if (libc.setns(home, libc.CLONE_NEWNET) < 0) throw libc.sysError('setns', 'back to the original namespace');
    }
  } finally {
    closeSync(home);
    closeSync(target);
  }
}
