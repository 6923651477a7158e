import { strict as assert } from 'node:assert';
import { createProgressRenderer, formatProgressBar } from '../src/drivers/flash/progress-bar';
import type { FlashProgress } from '../src/drivers/flash/write-image';

const MB = 1e6;
const at = (bytes: number, phase: FlashProgress['phase'] = 'write', total: number | undefined = 200 * MB): FlashProgress => ({ phase, bytes, total, bytesPerSecond: 25 * MB });

describe('flash: progress bar', () => {
  it('draws fraction, amounts, rate and time left', () => {
    assert.equal(formatProgressBar(at(50 * MB), 20), 'write [#####---------------]  25%  50.0/200.0 MB  25.0 MB/s  ETA 0:06');
    assert.equal(formatProgressBar(at(200 * MB, 'verify'), 10), 'verify [##########] 100%  200.0/200.0 MB  25.0 MB/s  ETA 0:00');
    assert.equal(formatProgressBar({ ...at(12.5 * MB), total: undefined }), 'write 12.5 MB  25.0 MB/s');
  });

  it('redraws one line in place on a TTY, throttled, and ends each phase on its last update', () => {
    let text = '';
    const bar = createProgressRenderer({ isTTY: true, write: (t: string) => (text += t) }, 60_000);
    bar.update(at(10 * MB));
    bar.update(at(20 * MB)); // throttled
    bar.update(at(30 * MB)); // throttled, but the last of its phase
    bar.update(at(5 * MB, 'verify'));
    bar.end();
    const lines = text.split('\n');
    assert.equal(lines.length, 3);
    assert.deepEqual(lines[0].split('\r').filter(Boolean).map((l) => l.match(/ (\d+\.\d)\/200/)![1]), ['10.0', '30.0']);
    assert.match(lines[1], /^\rverify .*5\.0\/200\.0 MB/);
    assert.equal(lines[2], '');
  });

  it('prints one plain line per 10% when not a TTY, per phase', () => {
    const lines: string[] = [];
    const bar = createProgressRenderer({ isTTY: false, write: (t: string) => lines.push(t) });
    for (let mb = 4; mb <= 200; mb += 4) bar.update(at(mb * MB));
    bar.update(at(200 * MB, 'verify'));
    bar.end();
    assert.deepEqual(lines, [
      ...[0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100].map((p) => `write ${p}% (25.0 MB/s)\n`),
      'verify 100% (25.0 MB/s)\n',
    ]);
  });
});
