// Real-time scheduling for latency-critical agents. Under the default
// scheduler, wakeups of the delay line waited 0.5-5 ms behind other busy
// processes (p99 delay error ~2.5 ms at 1,000 frames/s); SCHED_FIFO brought
// the p99 to ~0.15 ms (bench/delay-accuracy.ts). The kernel's RT throttling
// (sched_rt_runtime_us) still reserves CPU time for everything else.
import * as libc from './libc';

/**
 * Moves the calling thread to SCHED_FIFO at `priority`. Threads created
 * afterwards inherit it, so call this before loading native addons that start
 * their own threads (the epoll addon's watcher is on the wakeup path).
 */
export function enterRealtimeScheduling(priority: number): void {
  const param = Buffer.alloc(4); // struct sched_param
  param.writeInt32LE(priority);
  if (libc.schedSetscheduler(0, libc.SCHED_FIFO, param) < 0) throw libc.sysError('sched_setscheduler', `SCHED_FIFO ${priority}`);
}
