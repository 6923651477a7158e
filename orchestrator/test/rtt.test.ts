import assert from 'node:assert/strict';
import { measuredAgain, parsePingLines, withinTolerance } from '../src/delays/rtt';

describe('RTT measurement', () => {
  it('parses per-target ping lines, ignoring other targets', () => {
    const out = [
      '10.0.0.1 64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time=10.5 ms',
      '10.0.0.2 64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=99.0 ms',
      '10.0.0.1 64 bytes from 10.0.0.1: icmp_seq=2 ttl=64 time=11.5 ms',
      '10.0.0.1 3 packets transmitted, 2 received, 33% packet loss, time 100ms',
    ].join('\n');
    assert.deepEqual(parsePingLines(out, '10.0.0.1'), { times: [10.5, 11.5], sent: 3 });
  });

  it('judges RTT with max(1 ms, 5%)', () => {
    const s = { from: 'a', to: 'b', target: 'x', received: 1, sent: 1, minMs: 0, statistic: 'median' as const };
    assert.equal(withinTolerance({ ...s, expectedMs: 10, medianMs: 10.9 }), true);
    assert.equal(withinTolerance({ ...s, expectedMs: 10, medianMs: 11.1 }), false);
    assert.equal(withinTolerance({ ...s, expectedMs: 200, medianMs: 209 }), true);
    assert.equal(withinTolerance({ ...s, expectedMs: 200, medianMs: 211 }), false);
    assert.equal(withinTolerance({ ...s, expectedMs: 200, medianMs: null }), false);
  });

  it("keeps a path's fastest round trip of every round it was measured in, and the latest round's median", () => {
    const s = { from: 'a', to: 'b', target: 'x', expectedMs: 10, statistic: 'median' as const };
    const busy = { ...s, received: 20, sent: 20, medianMs: 16.2, minMs: 12.7 };
    const settled = { ...s, received: 19, sent: 20, medianMs: 11.0, minMs: 13.1 };
    assert.deepEqual(measuredAgain(busy, settled), { ...settled, minMs: 12.7 });
    assert.deepEqual(measuredAgain(settled, { ...busy, minMs: 9.6 }), { ...busy, minMs: 9.6 });
    assert.deepEqual(measuredAgain({ ...busy, minMs: null, medianMs: null }, settled), settled, 'a round with no answer has no floor to keep');
    assert.equal(measuredAgain(settled, { ...busy, minMs: null, medianMs: null }).minMs, 13.1);
  });

  it('judges an external WAN by its floor: a busy host adds to a round trip, a WAN with other delays shows in the fastest one too', () => {
    const s = { from: 'a', to: 'b', target: 'x', received: 10, sent: 10, expectedMs: 10, statistic: 'floor' as const };
    assert.equal(withinTolerance({ ...s, medianMs: 12.9, minMs: 10.2 }), true);
    assert.equal(withinTolerance({ ...s, medianMs: 12.9, minMs: 11.2 }), false);
    assert.equal(withinTolerance({ ...s, medianMs: 8.5, minMs: 8.0 }), false, 'no delay at all is no profile either');
    assert.equal(withinTolerance({ ...s, medianMs: null, minMs: null }), false);
    assert.equal(withinTolerance({ ...s, statistic: 'median', medianMs: 12.9, minMs: 10.2 }), false, 'delays the lab makes are judged by their median');
  });
});
