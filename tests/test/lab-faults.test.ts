import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveTopology } from '@synrace/orchestrator';
import { describeOwnLabs, leftoversOf, runCli, startCli, waitForStderr } from '../src';

describeOwnLabs('virtual lab: bad input and interrupted runs', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'synrace-faults-'))));
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await runCli(['down']);
  });

  it('rejects a topology with an unknown site, naming file, line and field, and creates nothing', async () => {
    const good = readFileSync(resolveTopology('world'), 'utf8');
    const lines = good.split('\n');
    const at = lines.findIndex((l) => /site:\s*frankfurt/.test(l));
    assert.ok(at >= 0, 'the world lab has a board at site frankfurt');
    lines[at] = lines[at].replace('frankfurt', 'frankfrut');
    const bad = join(dir, 'typo.yaml');
    writeFileSync(bad, lines.join('\n'));
    const result = await runCli(['up', '--topology', bad]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`typo\\.yaml:${at + 1}: .*site.*frankfrut`));
    assert.deepEqual(await leftoversOf(), []);
  });

  it('rejects YAML that does not parse, with the line', async () => {
    const bad = join(dir, 'broken.yaml');
    writeFileSync(bad, 'name: world\nsites:\n  - name: [unclosed\n');
    const result = await runCli(['up', '--topology', bad]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /broken\.yaml:\d+/);
    assert.deepEqual(await leftoversOf(), []);
  });

  it('removes everything when `up` is interrupted with Ctrl-C halfway', async () => {
    const up = startCli(['up']);
    await waitForStderr(up, /namespaces and links created/, 60_000);
    up.child.kill('SIGINT');
    const { code } = await up.exit;
    assert.notEqual(code, 0);
    assert.match(up.stderr(), /SIGINT/);
    assert.deepEqual(await leftoversOf(), []);
  });

  it('lets `down` clean up after an `up` that was killed outright', async () => {
    const up = startCli(['up']);
    await waitForStderr(up, /serial consoles attached/, 60_000);
    up.child.kill('SIGKILL');
    await up.exit;
    assert.ok((await leftoversOf()).length > 0, 'a killed up leaves things for down to find');
    const down = await runCli(['down']);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await leftoversOf(), []);
  });
});
