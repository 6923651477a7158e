// The agents' one time base: CLOCK_MONOTONIC in nanoseconds, as a double
// (exact to the ns for 104 days of uptime, to a few ns long after).
import * as libc from './libc';

/** process.hrtime reads CLOCK_MONOTONIC on Linux, the clock timerfds use too. */
export function monotonicNs(): number {
  return Number(process.hrtime.bigint());
}

/**
 * Converts kernel CLOCK_REALTIME timestamps (socket receive times) to
 * CLOCK_MONOTONIC. `refresh` re-reads the offset, so a clock step or NTP slew
 * only affects frames until the next refresh.
 */
export class RealtimeToMonotonic {
  private readonly ts = Buffer.alloc(16);
  private refSec = 0;
  private refNsec = 0;
  private refMonotonicNs = 0;

  constructor() {
    this.refresh();
  }

  refresh(): void {
    if (libc.clockGettime(libc.CLOCK_REALTIME, this.ts) < 0) throw libc.sysError('clock_gettime');
    this.refMonotonicNs = monotonicNs();
    // Seconds and nanoseconds stay separate: realtime ns exceed 2^53.
    this.refSec = Number(this.ts.readBigInt64LE(0));
    this.refNsec = Number(this.ts.readBigInt64LE(8));
  }

  toMonotonicNs(sec: number, nsec: number): number {
    return this.refMonotonicNs + (sec - this.refSec) * 1e9 + (nsec - this.refNsec);
  }
}
