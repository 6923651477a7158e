import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMochaTap } from '../src/tap-run';

describe('runMochaTap: specs run by mocha, read back from its TAP', function () {
  this.timeout(30_000);
  let dir: string;
  let spec: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'synrace-tap-run-'));
    spec = join(dir, 'two.test.js');
    writeFileSync(spec, "describe('pair', () => { it('alpha holds', () => {}); it('beta fails', () => { throw new Error('beta'); }); });\n");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const run = (grep?: string) => runMochaTap([spec], () => undefined, { grep });

  it('counts what ran', async () => {
    const all = await run();
    assert.deepEqual([all.pass, all.fail, all.skip], [1, 1, 0]);
  });

  it('runs only the tests whose name matches --grep', async () => {
    const alpha = await run('alpha');
    assert.deepEqual([alpha.pass, alpha.fail, alpha.skip], [1, 0, 0]);
    assert.doesNotMatch(alpha.tap, /beta/);
  });

  it('fails a run whose --grep matches no test, saying so', async () => {
    const none = await run('gamma');
    assert.deepEqual([none.pass, none.fail], [0, 1]);
    assert.match(none.tap, /no test matches --grep "gamma"/);
  });
});
