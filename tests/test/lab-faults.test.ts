import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { labRunDir, resolveTopology } from '@synrace/orchestrator';
import { describeOwnLabs, leftoversOf, runCli, startCli, waitForStderr } from '../src';

const LAB = 'e2e-faults';
const INTERRUPTED_LAB = 'e2e-faults-int';
const up = (...args: string[]) => ['up', '--name', LAB, ...args];

describeOwnLabs('namespace lab: bad input and interrupted runs', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'srt-faults-'))));
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await runCli(['down', '--lab', LAB]);
    await runCli(['down', '--lab', INTERRUPTED_LAB]);
  });

  it('rejects a topology with an unknown site, naming file, line and field, and creates nothing', async () => {
    const good = readFileSync(resolveTopology('world'), 'utf8');
    const lines = good.split('\n');
    const at = lines.findIndex((l) => /site:\s*frankfurt/.test(l));
    assert.ok(at >= 0, 'the world lab has a board at site frankfurt');
    lines[at] = lines[at].replace('frankfurt', 'frankfrut');
    const bad = join(dir, 'typo.yaml');
    writeFileSync(bad, lines.join('\n'));
    const result = await runCli(up('--topology', bad));
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`typo\\.yaml:${at + 1}: .*site.*frankfrut`));
    assert.deepEqual(await leftoversOf(LAB), []);
  });

  it('rejects YAML that does not parse, with the line', async () => {
    const bad = join(dir, 'broken.yaml');
    writeFileSync(bad, 'name: world\nsites:\n  - name: [unclosed\n');
    const result = await runCli(up('--topology', bad));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /broken\.yaml:\d+/);
    assert.deepEqual(await leftoversOf(LAB), []);
  });

  it('refuses a lab name that could not name host objects, saying what a name is', async () => {
    const result = await runCli(['up', '--name', 'My_Lab']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /--name "My_Lab": a lab name is 1-24 characters/);
  });

  it("takes a suite's lab down when Ctrl-C comes while a test holds the lab's lock", async () => {
    // What `npm test` does on Ctrl-C or a CI's timeout: the running mocha gets SIGINT. The lab fixture takes
    // the lab down; a power cycle of the test's own must not stop it (a VM lab was once left running so).
    const suite = spawn(process.execPath, [require.resolve('mocha/bin/mocha.js'), '--reporter', 'tap', join(__dirname, 'fixtures', 'interrupted-suite.js')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SYNRACE_INTERRUPTED_LAB: INTERRUPTED_LAB },
    });
    let stderr = '';
    suite.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    suite.stdout!.resume();
    const exit = new Promise<number | null>((resolve) => suite.on('close', (code) => resolve(code)));
    const lock = labRunDir(INTERRUPTED_LAB).path('lock');
    const deadline = Date.now() + 100_000;
    while (!(existsSync(lock) && / power rep-iad cycle$/.test(readFileSync(lock, 'utf8').trim()))) {
      assert.ok(Date.now() < deadline, `the suite never power-cycled a board; stderr:\n${stderr}`);
      await delay(20);
    }
    suite.kill('SIGINT');
    assert.equal(await exit, 130, stderr);
    assert.doesNotMatch(stderr, /taking lab .* down after the signal failed/);
    assert.deepEqual(await leftoversOf(INTERRUPTED_LAB), []);
  });

  it('removes everything when `up` is interrupted with Ctrl-C halfway', async () => {
    const run = startCli(up());
    await waitForStderr(run, /namespaces and links created/, 60_000);
    run.child.kill('SIGINT');
    const { code } = await run.exit;
    assert.notEqual(code, 0);
    assert.match(run.stderr(), /SIGINT/);
    assert.deepEqual(await leftoversOf(LAB), []);
  });

  describe('down after an up that was killed outright', () => {
    // What another tool, another lab or an older synrace may have on the host: down must leave all of it alone.
    const decoys = { namespaces: ['synrace-decoy', `synrace-${LAB}2.nyc-gw`, `synrace-${LAB}-x`], links: ['srm0', 'synrace-mgmt'] };
    let bystander: ChildProcess;
    before(() => {
      for (const ns of decoys.namespaces) execFileSync('ip', ['netns', 'add', ns]);
      for (const link of decoys.links) execFileSync('ip', ['link', 'add', link, 'type', 'bridge']);
      // A process whose command line names a path that merely starts with the lab's run directory.
      bystander = spawn('sh', ['-c', 'sleep 600; true', 'sh', `/run/synrace/${LAB}-other/x`], { stdio: 'ignore' });
    });
    after(() => {
      for (const ns of decoys.namespaces) spawn('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      for (const link of decoys.links) spawn('ip', ['link', 'del', link], { stdio: 'ignore' });
      bystander?.kill();
    });

    it('removes what the killed up made, and nothing of any other lab or program', async () => {
      const run = startCli(up());
      await waitForStderr(run, /serial consoles attached/, 60_000);
      run.child.kill('SIGKILL');
      await run.exit;
      assert.ok((await leftoversOf(LAB)).length > 0, 'a killed up leaves things for down to find');
      const down = await runCli(['down', '--lab', LAB]);
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(await leftoversOf(LAB), []);
      const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
      for (const ns of decoys.namespaces) assert.match(namespaces, new RegExp(`^${ns.replace('.', '\\.')}\\b`, 'm'), `${ns} was removed`);
      const links = execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' });
      for (const link of decoys.links) assert.match(links, new RegExp(`^${link}\\b`, 'm'), `${link} was removed`);
      assert.equal(bystander.exitCode, null, 'a process of someone else was killed');
    });
  });
});
