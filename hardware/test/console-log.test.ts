import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleLogWriter } from '../src/drivers/console-log';

describe('console log writer', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'synrace-console-log-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps terminal control sequences out of the log, and the text in', async () => {
    const file = join(dir, 'board.log');
    const writer = new ConsoleLogWriter(file, 'b1');
    writer.output(Buffer.from('\x1b[?2004hroot@b1:~# \x1b[01;32mls\x1b[0m\r\n\x1b]0;title\x07plain text\r\n'));
    await writer.close();
    const texts = readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(' | ')[1]);
    assert.deepEqual(texts, ['root@b1:~# ls', 'plain text']);
  });
});
