// One-shot timer on an absolute CLOCK_MONOTONIC deadline, with sub-ms wakeups.
// setTimeout rounds to whole milliseconds: it fires up to ~1 ms late and can
// fire early. A timerfd (TFD_TIMER_ABSTIME) on the event loop is never early,
// but waking an idle process still takes ~150 us here (more in the tail); so
// the timerfd is set WAKE_LEAD_NS ahead and the last stretch is a busy wait
// (see bench/timer-precision.ts).
import { monotonicNs } from './clock';
import * as libc from './libc';
import { watchReadable } from './readiness';

export interface PreciseTimer {
  /** (Re)arms the timer to fire once at `deadlineNs` (CLOCK_MONOTONIC ns); past deadlines fire at once. */
  armAt(deadlineNs: number): void;
  /** Fires nothing until armed again. */
  disarm(): void;
  close(): void;
}

const NS_PER_S = 1_000_000_000;
// Above the typical wake latency, so most wakeups land before the deadline;
// it bounds the CPU spent spinning per expiry.
const WAKE_LEAD_NS = 250_000;

export function createPreciseTimer(onFire: () => void): PreciseTimer {
  const fd = libc.timerfdCreate(libc.CLOCK_MONOTONIC, libc.TFD_NONBLOCK | libc.TFD_CLOEXEC);
  if (fd < 0) throw libc.sysError('timerfd_create');
  const spec = Buffer.alloc(32); // struct itimerspec: it_interval (zero = one-shot), it_value
  const expirations = Buffer.alloc(8);

  const settime = (deadlineNs: number): void => {
    const whole = Math.floor(deadlineNs / NS_PER_S);
    spec.writeBigInt64LE(BigInt(whole), 16);
    spec.writeBigInt64LE(BigInt(Math.floor(deadlineNs - whole * NS_PER_S)), 24);
    if (libc.timerfdSettime(fd, libc.TFD_TIMER_ABSTIME, spec, null) < 0) {
      throw libc.sysError('timerfd_settime');
    }
  };

  let deadline = 0;
  const unwatch = watchReadable(fd, () => {
    // Reading the expiration count clears readiness; EAGAIN means the timer
    // was re-armed after the expiry was queued, so it is not due yet.
    if (libc.read(fd, expirations, 8) !== 8) return;
    while (monotonicNs() < deadline) {
      // spin: the deadline is at most WAKE_LEAD_NS away
    }
    onFire();
  });

  return {
    armAt(deadlineNs) {
      deadline = deadlineNs;
      // An all-zero it_value would disarm, so the earliest expiry is 1 ns.
      settime(Math.max(1, deadlineNs - WAKE_LEAD_NS));
    },
    disarm() {
      // An all-zero it_value disarms, and clears an expiry not yet read.
      deadline = 0;
      settime(0);
    },
    close: () => {
      unwatch();
      libc.close(fd);
    },
  };
}
