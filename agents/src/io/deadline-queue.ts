// Any number of one-shot deadlines on one precise timer (precise-timer.ts). setTimeout rounds to whole
// milliseconds and fires up to ~1 ms late; a synchronized race's holds would add that to every handshake
// they delay, and the predictor counts none of it.
import { monotonicNs } from './clock';
import { createPreciseTimer } from './precise-timer';

export interface DeadlineQueue {
  /** Runs `fn` once, `ms` (fractions kept) from now; never before. Returns a cancel. */
  after(ms: number, fn: () => void): () => void;
  /** Runs `fn` once at `atNs` (CLOCK_MONOTONIC); at once if that has passed. Returns a cancel. */
  at(atNs: number, fn: () => void): () => void;
  /** Deadlines not yet due (cancelled ones until theirs). */
  readonly size: number;
  /** Drops every pending deadline, unrun, and the timer. */
  close(): void;
}

interface Deadline {
  atNs: number;
  fn: () => void;
  /** A cancelled deadline runs nothing; it leaves the heap once it is at the front, so the timer never wakes for it. */
  cancelled: boolean;
}

const NS_PER_MS = 1e6;

export function createDeadlineQueue(): DeadlineQueue {
  // A binary min-heap on atNs: the timer is armed for its head only.
  const heap: Deadline[] = [];
  let armedNs = Infinity;
  const timer = createPreciseTimer(runDue);

  function arm(atNs: number): void {
    if (atNs >= armedNs) return;
    armedNs = atNs;
    timer.armAt(atNs);
  }

  function push(d: Deadline): void {
    let i = heap.push(d) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].atNs <= d.atNs) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = d;
  }

  function pop(): Deadline {
    const head = heap[0];
    const last = heap.pop()!;
    if (heap.length === 0) return head;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const child = left + 1 < heap.length && heap[left + 1].atNs < heap[left].atNs ? left + 1 : left;
      if (heap[child].atNs >= last.atNs) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
    return head;
  }

  /** The timer follows the front of the heap once cancelled deadlines are off it, later or earlier. */
  function rearm(): void {
    while (heap.length > 0 && heap[0].cancelled) pop();
    if (heap.length === 0) {
      armedNs = Infinity;
      timer.disarm();
    } else if (heap[0].atNs !== armedNs) {
      armedNs = heap[0].atNs;
      timer.armAt(armedNs);
    }
  }

  function runDue(): void {
    armedNs = Infinity;
    const now = monotonicNs();
    while (heap.length > 0 && heap[0].atNs <= now) {
      const due = pop();
      if (!due.cancelled) due.fn();
    }
    rearm();
  }

  function at(atNs: number, fn: () => void): () => void {
    const d: Deadline = { atNs, fn, cancelled: false };
    push(d);
    arm(heap[0].atNs);
    return () => {
      d.cancelled = true;
      // A gateway's cached start packets are answered well before most of their deadlines.
      if (heap[0] === d) rearm();
    };
  }

  return {
    after: (ms, fn) => at(monotonicNs() + ms * NS_PER_MS, fn),
    at,
    get size() {
      return heap.length;
    },
    close() {
      heap.length = 0;
      timer.close();
    },
  };
}
