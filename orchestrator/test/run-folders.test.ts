import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archiveLogs, newRunFolder } from '../src/labs/run-folders';

describe('run folders and log archives', () => {
  let root: string;
  const saved = { artifacts: process.env.SYNRACE_ARTIFACTS_ROOT, logs: process.env.SYNRACE_LOG_ARCHIVE };
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'srt-runs-'));
    process.env.SYNRACE_ARTIFACTS_ROOT = join(root, 'artifacts');
    process.env.SYNRACE_LOG_ARCHIVE = join(root, 'logs');
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
    for (const [key, value] of [['SYNRACE_ARTIFACTS_ROOT', saved.artifacts], ['SYNRACE_LOG_ARCHIVE', saved.logs]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it('keeps the newest ten run folders of a lab and touches nothing it did not name', () => {
    const dir = join(root, 'artifacts', 'world');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'notes.txt'), 'a user file');
    mkdirSync(join(dir, '2020-01-01-old-results'));
    for (let i = 0; i < 12; i++) newRunFolder('world', new Date(Date.UTC(2026, 11, 1, 0, 0, i)));
    const left = readdirSync(dir).sort();
    assert.deepEqual(left.filter((n) => n.startsWith('2026')), Array.from({ length: 10 }, (_, i) => `2026-12-01T00-00-${String(i + 2).padStart(2, '0')}-000Z`));
    assert.ok(left.includes('notes.txt') && left.includes('2020-01-01-old-results'), left.join(', '));
    newRunFolder('europe');
    assert.equal(readdirSync(dir).filter((n) => n.startsWith('2026')).length, 10, 'another lab prunes only its own folder');
  });

  it('archives a lab\'s console logs under its name, pruned the same way', () => {
    for (let i = 0; i < 11; i++) {
      const logs = join(root, 'run', 'logs');
      mkdirSync(logs, { recursive: true });
      writeFileSync(join(logs, 'nyc-gw.log'), `boot ${i}\n`);
      archiveLogs('world', logs, new Date(Date.UTC(2026, 11, 1, 0, 0, i)));
      assert.equal(existsSync(logs), false);
    }
    writeFileSync(join(root, 'logs', 'world', 'keep-me'), '');
    archiveLogs('world', join(root, 'nothing'), new Date());
    const left = readdirSync(join(root, 'logs', 'world'));
    assert.equal(left.filter((n) => n.startsWith('2026')).length, 10);
    assert.ok(left.includes('keep-me'));
  });
});
