import { strict as assert } from 'node:assert';
import { DelayScheduler } from '../src/delay/delay-scheduler';

const MS = 1e6;

describe('DelayScheduler', () => {
  let now: number;
  let scheduler: DelayScheduler<string>;
  let released: [number, string][];
  const release = (): number => scheduler.releaseDue((path, item) => released.push([path, item]));

  beforeEach(() => {
    now = 0;
    released = [];
    scheduler = new DelayScheduler<string>(
      [
        { delayMs: 20, jitterMs: 0, lossPct: 0 },
        { delayMs: 5, jitterMs: 0, lossPct: 0 },
        { delayMs: 1, jitterMs: 0, lossPct: 100 },
      ],
      { now: () => now, random: () => 0.5, queueLimit: 1 },
    );
  });

  it('reports Infinity when nothing is queued', () => {
    assert.equal(release(), Infinity);
  });

  it('releases each path at its own delay and reports the earliest pending departure', () => {
    scheduler.enqueue(0, 'a->b', 100, 0);
    scheduler.enqueue(1, 'b->a', 100, 1 * MS);
    assert.equal(release(), 6 * MS);
    now = 6 * MS;
    assert.equal(release(), 20 * MS);
    assert.deepEqual(released, [[1, 'b->a']]);
    now = 20 * MS;
    assert.equal(release(), Infinity);
    assert.deepEqual(released, [[1, 'b->a'], [0, 'a->b']]);
  });

  it('takes arrival times from the caller, not from its clock', () => {
    now = 50 * MS;
    assert.equal(scheduler.enqueue(1, 'x', 100, 10 * MS), 15 * MS);
  });

  it('keeps drops per path', () => {
    scheduler.enqueue(0, 'first', 100, 0);
    assert.equal(scheduler.enqueue(0, 'second', 100, 0), 'full');
    assert.equal(scheduler.enqueue(2, 'gone', 100, 0), 'lost');
    assert.deepEqual(scheduler.drops(0), { droppedLoss: 0, droppedQueue: 1 });
    assert.deepEqual(scheduler.drops(1), { droppedLoss: 0, droppedQueue: 0 });
    assert.deepEqual(scheduler.drops(2), { droppedLoss: 1, droppedQueue: 0 });
  });
});
