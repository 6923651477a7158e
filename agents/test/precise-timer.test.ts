import { strict as assert } from 'node:assert';
import { monotonicNs } from '../src/io/clock';
import { createPreciseTimer, PreciseTimer } from '../src/io/precise-timer';

describe('createPreciseTimer', () => {
  let timer: PreciseTimer | undefined;
  afterEach(() => timer?.close());

  it('fires never before its deadline and well under a millisecond after it', async () => {
    const lateness: number[] = [];
    await new Promise<void>((resolve) => {
      let deadline = 0;
      const arm = (): void => {
        deadline = monotonicNs() + 300_000 + Math.random() * 3_000_000;
        timer!.armAt(deadline);
      };
      timer = createPreciseTimer(() => {
        lateness.push(monotonicNs() - deadline);
        if (lateness.length < 100) arm(); else resolve();
      });
      arm();
    });
    lateness.sort((a, b) => a - b);
    assert.ok(lateness[0] >= 0, `fired ${-lateness[0]} ns early`);
    assert.ok(lateness[49] < 200_000, `median lateness ${lateness[49]} ns`);
  });

  it('replaces a pending deadline when re-armed earlier', async () => {
    const fired: number[] = [];
    const start = monotonicNs();
    timer = createPreciseTimer(() => fired.push(monotonicNs() - start));
    timer.armAt(start + 50e6);
    timer.armAt(start + 5e6);
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(fired.length, 1);
    assert.ok(fired[0] >= 5e6 && fired[0] < 20e6, `fired after ${fired[0]} ns`);
  });

  it('fires promptly for a deadline already in the past', async () => {
    const fired = new Promise<number>((resolve) => {
      timer = createPreciseTimer(() => resolve(monotonicNs()));
    });
    const armedAt = monotonicNs();
    timer!.armAt(armedAt - 1e9);
    assert.ok((await fired) - armedAt < 5e6);
  });
});
