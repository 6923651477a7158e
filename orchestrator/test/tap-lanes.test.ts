import assert from 'node:assert/strict';
import { Parser } from 'tap-parser';
import { TapInterleaver } from '../src/tap-lanes';

/** Two mocha TAP streams as they really arrive: plan at the end, chunks cut anywhere, diagnostics indented. */
const FIRST = ['ok 1 a one', 'not ok 2 a two', '  AssertionError: expected 1', '    at a.js:3', 'ok 3 a three # SKIP', '# tests 3', '# pass 1', '# fail 1', '1..3', ''].join('\n');
const SECOND = ['ok 1 b one', 'ok 2 b two', '# tests 2', '# pass 2', '1..2', ''].join('\n');

function counts(tap: string): { pass: number; fail: number; skip: number; plan: number } {
  const parser = new Parser();
  const found = { pass: 0, fail: 0, skip: 0, plan: -1 };
  parser.on('assert', (r: { ok: boolean; skip?: unknown }) => (r.skip ? (found.skip += 1) : r.ok ? (found.pass += 1) : (found.fail += 1)));
  parser.on('plan', (p: { end: number }) => (found.plan = p.end));
  parser.end(tap);
  return found;
}

describe('TAP of runs side by side', () => {
  it('keeps each failure with its diagnostics, numbers every test once and closes with one plan', () => {
    let printed = '';
    const tap = new TapInterleaver((t) => (printed += t));
    const a = tap.lane();
    const b = tap.lane();
    // The failure's diagnostics arrive after a line of the other run, and a chunk ends inside a line.
    a.write(Buffer.from(FIRST.slice(0, FIRST.indexOf('  Assertion'))));
    b.write(Buffer.from(SECOND.slice(0, 14)));
    a.write(Buffer.from(FIRST.slice(FIRST.indexOf('  Assertion'))));
    b.write(Buffer.from(SECOND.slice(14)));
    a.end();
    b.end();
    const text = tap.finish();
    assert.equal(text, printed);
    const lines = text.trimEnd().split('\n');
    const failure = lines.findIndex((l) => /^not ok \d+ a two$/.test(l));
    assert.deepEqual(lines.slice(failure + 1, failure + 3), ['  AssertionError: expected 1', '    at a.js:3']);
    assert.deepEqual(lines.filter((l) => /^(not )?ok /.test(l)).map((l) => Number(l.split(' ').at(l.startsWith('not') ? 2 : 1))), [1, 2, 3, 4, 5]);
    assert.equal(lines.filter((l) => /^1\.\./.test(l) || /^# (tests|pass|fail)/.test(l)).join(), '1..5');
    assert.deepEqual(counts(text), { pass: 3, fail: 1, skip: 1, plan: 5 });
  });
});
