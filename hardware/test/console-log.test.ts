import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForConsole } from '../src/drivers/console-client';
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

  it('waitForConsole sees a login prompt that kernel messages cut in two', async () => {
    const file = join(dir, 'board.log');
    const writer = new ConsoleLogWriter(file, 'pi-01');
    writer.output(Buffer.from('Debian GNU/Linux 12 pi-01 ttyAMA0\r\n\r\npi-01 lo[    9.191630] Bluetooth: hci0: BCM: features 0x2f\r\n[    9.782749] usb 1-1.3: new high-speed USB device number 3 using xhci_hcd\r\ngin: '));
    await writer.close();
    const line = await waitForConsole(file, /\bpi-01 login: *$/, 500, { since: 0 });
    assert.match(line, /\| gin: $/);
  });

  it('waitForConsole sees a whole login prompt that kernel messages cut into and then follow, with no newline of its own', async () => {
    const file = join(dir, 'board.log');
    const writer = new ConsoleLogWriter(file, 'pi-01');
    // As a stand-in Pi's console printed it in CI63: the prompt's first letter, a kernel message, the rest of the prompt, more kernel messages.
    writer.output(Buffer.from('Debian GNU/Linux 12 pi-01 ttyAMA0\r\n\r\np[   10.070614] IPv6: ADDRCONF(NETDEV_CHANGE): wlan0: link becomes ready\r\n' +
      'i-01 login: [   10.265752] usb 1-1.3: New USB device found, idVendor=0bda, idProduct=8153, bcdDevice=30.00\r\n[   10.821243] cam-dummy-reg: disabling\r\n'));
    await writer.close();
    const line = await waitForConsole(file, /\blogin: *$/, 500, { since: 0 });
    assert.match(line, /\| i-01 login: \[/);
  });

  it('waitForConsole does not take a prompt mended from parts that never make one', async () => {
    const file = join(dir, 'board.log');
    const writer = new ConsoleLogWriter(file, 'pi-01');
    writer.output(Buffer.from('pi-01 lo[    9.191630] Bluetooth: hci0: BCM: features 0x2f\r\nst connection\r\n'));
    await writer.close();
    await assert.rejects(waitForConsole(file, /\bpi-01 login: *$/, 300, { since: 0 }), /timed out after 300 ms/);
  });
});
