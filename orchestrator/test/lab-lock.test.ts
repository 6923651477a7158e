import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processStartTime } from '@synrace/hardware';
import { lockLab } from '../src/labs/lab-lock';
import { lockRegistry } from '../src/labs/registry';
import { RunDir } from '../src/labs/run-dir';

describe('lab lock', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'srt-lock-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('records the holder with its pid and process start time, and releases it', () => {
    const dir = new RunDir(root);
    const release = lockLab(dir, 'up');
    assert.equal(readFileSync(dir.path('lock'), 'utf8'), `${process.pid} ${processStartTime(process.pid)} up\n`);
    release();
    assert.equal(existsSync(dir.path('lock')), false);
  });

  it('refuses a lock held by a live process and names its command and pid', () => {
    const dir = new RunDir(root);
    writeFileSync(dir.path('lock'), `1 ${processStartTime(1)} up\n`);
    assert.throws(() => lockLab(dir, 'down'), /busy: `synrace up` \(pid 1\)/);
  });

  it("refuses this process's own hold, unless the process is ending on a signal and takes it over", () => {
    const dir = new RunDir(root);
    lockLab(dir, 'power rep-iad cycle');
    assert.throws(() => lockLab(dir, 'down'), /already held by this process \(down\)/);
    assert.throws(() => lockLab(dir, 'down', false), /already held by this process/);
    const release = lockLab(dir, 'down', true);
    release();
    assert.equal(existsSync(dir.path('lock')), false);
    writeFileSync(dir.path('lock'), `1 ${processStartTime(1)} up\n`);
    assert.throws(() => lockLab(dir, 'down', true), /busy: `synrace up` \(pid 1\)/, "another live process's hold still stops it");
  });

  it('takes over a lock whose holder is gone, even when its pid was reused by another process', () => {
    const dir = new RunDir(root);
    // pid 1 lives, but not with that start time: the holder it names is gone.
    writeFileSync(dir.path('lock'), '1 0 up\n');
    const release = lockLab(dir, 'down');
    assert.match(readFileSync(dir.path('lock'), 'utf8'), new RegExp(`^${process.pid} `));
    release();
  });

  it('never lets two of many processes racing for a stale lock hold it at the same time', async () => {
    const dir = new RunDir(root);
    writeFileSync(dir.path('lock'), '999999999 1 up\n');
    const runDirModule = require.resolve('../src/labs/run-dir');
    const lockModule = require.resolve('../src/labs/lab-lock');
    // Each racer tries for the lock; one that gets it holds it 200 ms and prints when it held it.
    const racer = `const { RunDir } = require(${JSON.stringify(runDirModule)}); const { lockLab } = require(${JSON.stringify(lockModule)});
      try { const release = lockLab(new RunDir(${JSON.stringify(root)}), 'race'); const from = Date.now();
        setTimeout(() => { console.log('held ' + from + ' ' + Date.now()); release(); }, 200); }
      catch (e) { console.log('refused: ' + e.message.split('\\n')[0]); }`;
    const outputs = await Promise.all(
      Array.from({ length: 8 }, () => new Promise<string>((resolve) => {
        const child = spawn(process.execPath, ['-e', racer]);
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.on('close', () => resolve(out.trim()));
      })),
    );
    const held = outputs.filter((o) => o.startsWith('held')).map((o) => o.split(' ').slice(1).map(Number)).sort((a, b) => a[0] - b[0]);
    assert.ok(held.length >= 1, outputs.join('\n'));
    for (let i = 1; i < held.length; i++) assert.ok(held[i][0] >= held[i - 1][1], `two holders at once:\n${outputs.join('\n')}`);
    assert.ok(outputs.filter((o) => !o.startsWith('held')).every((o) => /busy|keeps changing hands/.test(o)), outputs.join('\n'));
  });
});

describe('registry lock', () => {
  let root: string;
  let before: string | undefined;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'srt-registry-'));
    before = process.env.SYNRACE_RUN_DIR;
    process.env.SYNRACE_RUN_DIR = root;
  });
  afterEach(() => {
    if (before === undefined) delete process.env.SYNRACE_RUN_DIR;
    else process.env.SYNRACE_RUN_DIR = before;
    rmSync(root, { recursive: true, force: true });
  });

  /** Another process that holds the registry lock for holdMs; resolves once it holds it. */
  const holder = (holdMs: number) => new Promise<{ pid: number; done: Promise<void> }>((resolve, reject) => {
    const registry = require.resolve('../src/labs/registry');
    const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(registry)}).lockRegistry('up --name other').then((release) => { console.log('held'); setTimeout(release, ${holdMs}); })`], { env: { ...process.env, SYNRACE_RUN_DIR: root } });
    const done = new Promise<void>((r) => child.on('close', () => r()));
    child.stdout.on('data', () => resolve({ pid: child.pid!, done }));
    child.on('error', reject);
  });

  it('makes an up started beside another wait for its turn, not fail', async () => {
    const other = await holder(400);
    const from = Date.now();
    const release = await lockRegistry('up --name mine');
    const waited = Date.now() - from;
    release();
    await other.done;
    assert.ok(waited >= 200, `took the lock after ${waited} ms, while the other up held it for 400 ms`);
  });

  it('names the holder once it has waited long enough', async () => {
    const other = await holder(1500);
    await assert.rejects(() => lockRegistry('up --name mine', 300), new RegExp(`another \`synrace up --name other\` \\(pid ${other.pid}\\) has been choosing its management subnet for 0.3 s; try again`));
    await other.done;
  });
});
