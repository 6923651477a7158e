import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { whereTheConsoleStopped } from '../src/backends/getty-console';

describe('a board that printed no boot marker', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'srt-console-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("names where its console stopped: the log's last 15 lines, oldest first", async () => {
    const log = join(root, 'nyc-gw.log');
    writeFileSync(log, Array.from({ length: 40 }, (_, i) => `[2026-12-03T17:00:${String(i).padStart(2, '0')}Z] line ${i}`).join('\n') + '\n');
    const said = await whereTheConsoleStopped(log);
    const shown = said.split('\n').slice(1).map((l) => l.trim());
    assert.match(said, /^its console's last 15 lines:\n/);
    assert.deepEqual(shown.map((l) => /line (\d+)$/.exec(l)?.[1]), Array.from({ length: 15 }, (_, i) => String(25 + i)));
  });

  it('says so when its console logged nothing, or has no log at all', async () => {
    const empty = join(root, 'empty.log');
    writeFileSync(empty, '');
    assert.equal(await whereTheConsoleStopped(empty), 'its console logged nothing: no power, or no serial line');
    assert.equal(await whereTheConsoleStopped(join(root, 'missing.log')), 'its console logged nothing: no power, or no serial line');
  });
});
