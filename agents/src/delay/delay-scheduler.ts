// Runs many PathQueues on one clock so a single timer can serve them all:
// it tracks which queues hold frames and when the next one is due.
import { Dropped, PathDrops, PathQueue, PathShape } from './path-queue';

export interface DelaySchedulerOptions {
  /** Current time in ns (the time base of arrival times); CLOCK_MONOTONIC in production, a fake in tests. */
  now: () => number;
  /** Uniform [0, 1) source for loss and jitter. */
  random: () => number;
  queueLimit: number;
}

export class DelayScheduler<T> {
  private readonly queues: PathQueue<T>[];
  private readonly busy = new Set<number>();

  /** Path `i` of the scheduler is `shapes[i]`. */
  constructor(shapes: readonly PathShape[], private readonly opts: DelaySchedulerOptions) {
    this.queues = shapes.map((shape) => new PathQueue<T>(shape, opts.queueLimit, opts.random));
  }

  /** Queues `item`, which arrived at `arrivalNs`, on `path`; returns its departure time or why it was dropped. */
  enqueue(path: number, item: T, bytes: number, arrivalNs: number): number | Dropped {
    const result = this.queues[path].offer(item, bytes, arrivalNs);
    if (typeof result === 'number') this.busy.add(path);
    return result;
  }

  /** Hands every due item to `deliver` and returns when the next one is due (Infinity if none). */
  releaseDue(deliver: (path: number, item: T) => void): number {
    const now = this.opts.now();
    let next = Infinity;
    for (const path of this.busy) {
      const queue = this.queues[path];
      queue.releaseDue(now, (item) => deliver(path, item));
      if (queue.size === 0) this.busy.delete(path);
      else next = Math.min(next, queue.headDepartureNs);
    }
    return next;
  }

  drops(path: number): Readonly<PathDrops> {
    return this.queues[path].drops;
  }
}
