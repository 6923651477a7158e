// Every role's packet handler against seeded hostile input: no crash, one verdict per packet, every
// rewritten packet well-formed, no table entry left once its timeout ran out. The million-frame runs
// (with memory) are in bench/role-fuzz.ts; a failure replays with fuzzRole(role, count, seed).
import { strict as assert } from 'node:assert';
import { fuzzDelayLine } from './fixtures/delay-line-fuzz';
import { fuzzRole, FUZZ_ROLES } from './fixtures/role-fuzz';

const FRAMES = 20_000;

describe('role fuzzing (seeded)', function () {
  this.timeout(60_000);
  for (const role of FUZZ_ROLES) {
    it(`${role}: ${FRAMES.toLocaleString('en')} hostile frames, no crash, nothing leaked`, () => {
      const result = fuzzRole(role, FRAMES, 20_26);
      assert.equal(result.frames, FRAMES);
      if (role === 'gateway') {
        assert.ok(result.outcomes.rewritten > 100 && result.outcomes.drop > 100 && result.outcomes.pass > 100, JSON.stringify(result.outcomes));
        assert.ok(result.stateAtEnd > 0, 'some frames made table entries');
        assert.equal(result.stateAfterExpiry, 0, 'every entry expires');
      }
      if (role === 'switch') assert.ok(result.outcomes.pass > 100 && result.outcomes.drop > 100, JSON.stringify(result.outcomes));
      if (role === 'replica') assert.ok(Number(result.counters['start-packets-answered'] ?? 0) > 0 && Number(result.counters['ipip-from-stranger-dropped'] ?? 0) > 0, JSON.stringify(result.counters));
    });
  }

  it(`delay line: ${FRAMES.toLocaleString('en')} hostile frames into the engine's ports, no crash, stations within their bound`, async () => {
    const result = await fuzzDelayLine(FRAMES, 20_26);
    assert.equal(result.outcomes.sent + result.outcomes.refusedByKernel, FRAMES);
    assert.ok(result.outcomes.forwarded > 1000, JSON.stringify(result.outcomes));
    assert.ok(result.outcomes.droppedLoss > 0, 'the 1% loss of its paths drew some frames');
    assert.ok(result.stateAtEnd > 0 && result.stateAtEnd <= Number(result.counters.bound), JSON.stringify(result.counters));
  });

  it('replays: the same seed gives the same outcomes', () => {
    assert.deepEqual(fuzzRole('gateway', 3000, 7).outcomes, fuzzRole('gateway', 3000, 7).outcomes);
  });
});
