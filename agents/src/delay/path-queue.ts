// The timing policy of one directed WAN path: a FIFO whose frames each get a
// departure time when they arrive. Departures never decrease, so jitter and
// rate limiting delay frames without reordering them (unlike netem's default).

export interface PathShape {
  delayMs: number;
  /** Each frame's delay is drawn uniformly from delayMs ± jitterMs (never below zero). */
  jitterMs: number;
  lossPct: number;
  /** Serialisation rate; unlimited when absent. */
  rateMbit?: number;
}

export interface PathDrops {
  droppedLoss: number;
  /** Arrived while the queue held its limit. */
  droppedQueue: number;
}

export type Dropped = 'lost' | 'full';

const NS_PER_MS = 1e6;

export class PathQueue<T> {
  readonly drops: PathDrops = { droppedLoss: 0, droppedQueue: 0 };
  // Ring buffer sized to the limit: no allocation per frame.
  private readonly items: (T | undefined)[];
  private readonly departures: Float64Array;
  private head = 0;
  private length = 0;
  private lastDepartureNs = -Infinity;
  private readonly delayNs: number;
  private readonly jitterNs: number;
  private readonly lossProbability: number;
  private readonly nsPerByte: number;

  constructor(shape: PathShape, private readonly limit: number, private readonly random: () => number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`queue limit must be a positive integer, got ${limit}`);
    this.items = new Array<T | undefined>(limit);
    this.departures = new Float64Array(limit);
    this.delayNs = shape.delayMs * NS_PER_MS;
    this.jitterNs = shape.jitterMs * NS_PER_MS;
    this.lossProbability = shape.lossPct / 100;
    this.nsPerByte = shape.rateMbit === undefined ? 0 : 8000 / shape.rateMbit;
  }

  get size(): number {
    return this.length;
  }

  /** Departure time of the oldest frame, or Infinity when empty. */
  get headDepartureNs(): number {
    return this.length === 0 ? Infinity : this.departures[this.head];
  }

  /** Queues a frame that arrived at `arrivalNs`; returns its departure time or why it was dropped. */
  offer(item: T, bytes: number, arrivalNs: number): number | Dropped {
    if (this.lossProbability > 0 && this.random() < this.lossProbability) {
      this.drops.droppedLoss++;
      return 'lost';
    }
    if (this.length === this.limit) {
      this.drops.droppedQueue++;
      return 'full';
    }
    const jitter = this.jitterNs === 0 ? 0 : (2 * this.random() - 1) * this.jitterNs;
    const departure = Math.max(
      arrivalNs + Math.max(0, this.delayNs + jitter),
      this.lastDepartureNs + bytes * this.nsPerByte,
    );
    this.lastDepartureNs = departure;
    const tail = (this.head + this.length) % this.limit;
    this.items[tail] = item;
    this.departures[tail] = departure;
    this.length++;
    return departure;
  }

  /** Hands every frame due at `nowNs` to `deliver`, oldest first. */
  releaseDue(nowNs: number, deliver: (item: T) => void): void {
    while (this.length > 0 && this.departures[this.head] <= nowNs) {
      const item = this.items[this.head] as T;
      this.items[this.head] = undefined;
      this.head = (this.head + 1) % this.limit;
      this.length--;
      deliver(item);
    }
  }
}
