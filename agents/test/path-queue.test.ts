import { strict as assert } from 'node:assert';
import { PathQueue, PathShape } from '../src/delay/path-queue';

const MS = 1e6;

/** RNG that replays `values` in order and fails the test if asked for more. */
function scripted(...values: number[]): () => number {
  return () => {
    const v = values.shift();
    if (v === undefined) throw new Error('RNG asked for more values than scripted');
    return v;
  };
}

const never = (): number => {
  throw new Error('RNG must not be consulted');
};

function shape(overrides: Partial<PathShape>): PathShape {
  return { delayMs: 0, jitterMs: 0, lossPct: 0, ...overrides };
}

function releaseAll<T>(q: PathQueue<T>, nowNs: number): T[] {
  const out: T[] = [];
  q.releaseDue(nowNs, (item) => out.push(item));
  return out;
}

describe('PathQueue', () => {
  it('departs each frame exactly delayMs after it arrived, without consulting the RNG', () => {
    const q = new PathQueue<string>(shape({ delayMs: 20 }), 10, never);
    assert.equal(q.offer('a', 100, 1000), 1000 + 20 * MS);
    assert.equal(q.offer('b', 100, 5000), 5000 + 20 * MS);
  });

  it('draws jitter uniformly from delay ± jitter', () => {
    const q = new PathQueue<string>(shape({ delayMs: 10, jitterMs: 2 }), 10, scripted(0, 0.5, 1));
    assert.equal(q.offer('low', 1, 0), 8 * MS);
    assert.equal(q.offer('mid', 1, 10 * MS), 20 * MS);
    assert.equal(q.offer('high', 1, 20 * MS), 32 * MS);
  });

  it('never lets jitter reorder: a frame drawing a short delay waits for the one before it', () => {
    const q = new PathQueue<string>(shape({ delayMs: 10, jitterMs: 5 }), 10, scripted(1, 0));
    const first = q.offer('first', 1, 0); // 15 ms
    const second = q.offer('second', 1, 1 * MS); // drew 5 ms: would leave at 6 ms
    assert.equal(first, 15 * MS);
    assert.equal(second, 15 * MS);
    assert.deepEqual(releaseAll(q, 15 * MS), ['first', 'second']);
  });

  it('keeps the order constraint after the queue has emptied', () => {
    const q = new PathQueue<string>(shape({ delayMs: 10, jitterMs: 5 }), 10, scripted(1, 0));
    q.offer('first', 1, 0);
    releaseAll(q, 15 * MS);
    assert.equal(q.size, 0);
    assert.equal(q.offer('second', 1, 2 * MS), 15 * MS);
  });

  it('clamps a jittered delay at zero instead of departing before arrival', () => {
    const q = new PathQueue<string>(shape({ delayMs: 1, jitterMs: 5 }), 10, scripted(0));
    assert.equal(q.offer('a', 1, 7 * MS), 7 * MS);
  });

  it('drops with probability lossPct/100 and counts the drops', () => {
    const q = new PathQueue<string>(shape({ delayMs: 1, lossPct: 30 }), 10, scripted(0.29, 0.3, 0.9));
    assert.equal(q.offer('a', 1, 0), 'lost');
    assert.equal(typeof q.offer('b', 1, 0), 'number');
    assert.equal(typeof q.offer('c', 1, 0), 'number');
    assert.deepEqual(q.drops, { droppedLoss: 1, droppedQueue: 0 });
    assert.equal(q.size, 2);
  });

  it('spaces departures by serialisation time at the configured rate', () => {
    // 1500 bytes at 12 Mbit/s take exactly 1 ms.
    const q = new PathQueue<string>(shape({ delayMs: 5, rateMbit: 12 }), 10, never);
    assert.equal(q.offer('a', 1500, 0), 5 * MS);
    assert.equal(q.offer('b', 1500, 0), 6 * MS);
    assert.equal(q.offer('c', 750, 0), 6.5 * MS);
    // A frame arriving after the backlog has cleared is not held back.
    assert.equal(q.offer('d', 1500, 10 * MS), 15 * MS);
  });

  it('tail-drops when the queue holds its limit, and accepts again once frames leave', () => {
    const q = new PathQueue<string>(shape({ delayMs: 1 }), 2, never);
    q.offer('a', 1, 0);
    q.offer('b', 1, 0);
    assert.equal(q.offer('c', 1, 0), 'full');
    assert.deepEqual(q.drops, { droppedLoss: 0, droppedQueue: 1 });
    assert.deepEqual(releaseAll(q, 1 * MS), ['a', 'b']);
    assert.equal(typeof q.offer('d', 1, 2 * MS), 'number');
  });

  it('releases only frames that are due, oldest first, across ring wrap-around', () => {
    const q = new PathQueue<number>(shape({ delayMs: 1 }), 3, never);
    for (let i = 0; i < 7; i++) {
      q.offer(i, 1, i * MS);
      if (i >= 1) assert.deepEqual(releaseAll(q, i * MS + 0.5 * MS), [i - 1]);
    }
    assert.equal(q.headDepartureNs, 7 * MS);
    assert.deepEqual(releaseAll(q, 6.9 * MS), []);
    assert.deepEqual(releaseAll(q, 7 * MS), [6]);
    assert.equal(q.headDepartureNs, Infinity);
  });

  it('rejects a limit that is not a positive integer', () => {
    assert.throws(() => new PathQueue(shape({}), 0, never), /positive integer/);
  });
});
