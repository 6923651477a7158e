import { strict as assert } from 'node:assert';
import { monotonicNs } from '../src/io/clock';
import { createPreciseTimer, PreciseTimer } from '../src/io/precise-timer';

describe('createPreciseTimer', () => {
  let timer: PreciseTimer | undefined;
  afterEach(() => timer?.close());

  // How late it fires on a quiet host is a figure of bench/timer-precision.ts; here, that it is never early
  // and does fire, even on a host busy with other suites.
  it('fires never before its deadline, and each time it is armed', async () => {
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
    assert.equal(lateness.length, 100);
    assert.ok(lateness[0] >= 0, `fired ${-lateness[0]} ns early`);
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

  it('fires for a deadline already in the past (an all-zero timerfd would never fire)', async () => {
    const fired = new Promise<number>((resolve) => {
      timer = createPreciseTimer(() => resolve(monotonicNs()));
    });
    const armedAt = monotonicNs();
    timer!.armAt(armedAt - 1e9);
    // A timer that never fired would hang here until mocha's timeout; a second is generous for a busy host.
    assert.ok((await fired) - armedAt < 1e9);
  });
});
