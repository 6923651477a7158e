import { strict as assert } from 'node:assert';
import { monotonicNs } from '../src/io/clock';
import { createDeadlineQueue, type DeadlineQueue } from '../src/io/deadline-queue';

describe('createDeadlineQueue', () => {
  let queue: DeadlineQueue | undefined;
  afterEach(() => queue?.close());

  // How late it runs on a quiet host is the precise timer's figure (bench/timer-precision.ts); here, that
  // each deadline runs once, never early, in deadline order, whatever the order they were set in.
  it('runs 100 deadlines set out of order once each, in order, none early', async () => {
    queue = createDeadlineQueue();
    const ran: { wanted: number; at: number }[] = [];
    // 1 to 100 ms, 1 ms apart, set in a scrambled order (setting them all takes far less than 1 ms).
    const delays = Array.from({ length: 100 }, (_, i) => ((i * 37) % 100) + 1);
    await new Promise<void>((resolve) => {
      for (const ms of delays) {
        const wanted = monotonicNs() + ms * 1e6;
        queue!.after(ms, () => {
          ran.push({ wanted, at: monotonicNs() });
          if (ran.length === delays.length) resolve();
        });
      }
    });
    assert.equal(queue.size, 0);
    const early = ran.filter((r) => r.at < r.wanted);
    assert.deepEqual(early, [], 'ran before its deadline');
    const wanted = ran.map((r) => r.wanted);
    assert.deepEqual(wanted, [...wanted].sort((a, b) => a - b), 'ran in deadline order');
  });

  it('runs nothing for a cancelled deadline, drops cancelled ones from the front at once, and disarms when none is left', async () => {
    queue = createDeadlineQueue();
    const ran: string[] = [];
    await new Promise<void>((resolve) => {
      const cancelFirst = queue!.after(1, () => ran.push('cancelled first'));
      const cancelLater = queue!.after(2, () => ran.push('cancelled later'));
      queue!.after(3, () => {
        ran.push('kept');
        resolve();
      });
      cancelLater();
      assert.equal(queue!.size, 3, 'a cancelled deadline behind the front waits to reach it');
      cancelFirst();
      assert.equal(queue!.size, 1, 'the front and the cancelled one behind it are gone');
    });
    assert.deepEqual(ran, ['kept']);
    const lone = queue.after(1, () => ran.push('alone'));
    lone();
    assert.equal(queue.size, 0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(ran, ['kept'], 'the disarmed timer ran nothing');
  });

  it('runs a deadline set on the clock at that time, and one already past at once', async () => {
    queue = createDeadlineQueue();
    const set = monotonicNs();
    const ran: { name: string; at: number }[] = [];
    await new Promise<void>((resolve) => {
      queue!.at(set + 5e6, () => {
        ran.push({ name: 'in 5 ms', at: monotonicNs() });
        resolve();
      });
      queue!.at(set - 50e6, () => ran.push({ name: 'past', at: monotonicNs() }));
    });
    assert.deepEqual(ran.map((r) => r.name), ['past', 'in 5 ms']);
    assert.ok(ran[1].at >= set + 5e6, 'never early');
  });

  it('takes deadlines set while it runs, and runs nothing once closed', async () => {
    queue = createDeadlineQueue();
    const ran: string[] = [];
    await new Promise<void>((resolve) => {
      queue!.after(2, () => {
        ran.push('first');
        queue!.after(0.5, () => {
          ran.push('set while running');
          resolve();
        });
      });
      queue!.after(30, () => ran.push('dropped by close'));
    });
    queue.close();
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(ran, ['first', 'set while running']);
    queue = undefined;
  });
});
