import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeOwnLabs, runCli, useLab } from '../src';

/** What a lab engineer opens after `synrace test`: every file of the run folder, read with the tools they would use. */
describeOwnLabs('synrace test: the run folder a lab engineer reads', function () {
  this.timeout(240_000);
  const lab = useLab({ name: 'e2e-runs' });
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'synrace-runs-'));
    process.env.SYNRACE_ARTIFACTS_ROOT = root;
  });
  after(() => {
    delete process.env.SYNRACE_ARTIFACTS_ROOT;
    rmSync(root, { recursive: true, force: true });
  });

  it('runs a suite against the live lab and leaves TAP, JUnit, consoles, agent state, pcaps and a report', async () => {
    // Two tests of the lab suite, one of them pinging across the WAN: what is at stake is the run folder (the whole
    // suite runs in its own file).
    const run = await runCli(['test', 'lab', '--lab', 'e2e-runs', '--grep', "exec over SSH|profile's round trip"]);
    assert.equal(run.code, 0, run.stderr.slice(-2000));
    assert.match(run.stdout.trimEnd().split('\n').pop()!, /^2 passed, 0 failed, 0 skipped$/);
    const [folder] = readdirSync(join(root, 'e2e-runs')).map((d) => join(root, 'e2e-runs', d));
    const boards = lab().state().boards.map((b) => b.name);
    assert.match(execFileSync('xmllint', ['--xpath', 'string(/testsuites/testsuite/@failures)', join(folder, 'junit.xml')], { encoding: 'utf8' }).trim(), /^0$/);
    for (const b of boards) assert.ok(existsSync(join(folder, 'consoles', `${b}.log`)), `console log of ${b}`);
    assert.ok(readdirSync(join(folder, 'agents')).length >= 5, 'agent counters and tables');
    const pcaps = readdirSync(join(folder, 'pcaps', 'boards'));
    assert.ok(pcaps.includes('lon-switch-wan0.pcap'), pcaps.join(' '));
    assert.match(execFileSync('tcpdump', ['-nn', '-r', join(folder, 'pcaps', 'boards', 'lon-switch-wan0.pcap')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }), /IP /);
    const png = join(folder, 'report.png');
    execFileSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', `--user-data-dir=${join(folder, 'chromium')}`, `--screenshot=${png}`, '--window-size=1280,1600', `file://${join(folder, 'report.html')}`], { stdio: 'ignore', timeout: 60_000 });
    assert.ok(statSync(png).size > 50_000, 'the report renders to a picture with content');
  });
});
