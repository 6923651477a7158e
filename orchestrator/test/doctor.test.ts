import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInventory } from '@synrace/netem-profiles';
import { doctor } from '../src/backends/hardware/doctor';

describe('synrace doctor', function () {
  this.timeout(30_000);
  let dir: string;
  let socat: ChildProcess | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'synrace-doctor-'));
    // A real serial stand-in: a pty pair, as a USB adapter's tty would be.
    socat = spawn('socat', [`pty,raw,echo=0,link=${join(dir, 'ttyUSB0')}`, `pty,raw,echo=0,link=${join(dir, 'board-side')}`], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(join(dir, 'ttyUSB0')); i++) await new Promise((r) => setTimeout(r, 20));
    // The GPIO controller of a Pi 4 on a current kernel: base 512, not 0.
    const chip = join(dir, 'gpio', 'gpiochip512');
    mkdirSync(chip, { recursive: true });
    writeFileSync(join(chip, 'label'), 'pinctrl-bcm2711\n');
    writeFileSync(join(chip, 'base'), '512\n');
    writeFileSync(join(chip, 'ngpio'), '58\n');
    writeFileSync(join(dir, 'not-a-card.img'), Buffer.alloc(4096));
  });

  afterEach(() => {
    socat?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  function inventory(serialPath: string, sshPort: number): string {
    const file = join(dir, 'inventory.yaml');
    writeFileSync(file, [
      'name: bench',
      'topology: world',
      'defaults: { ssh: { user: synrace, key: /nonexistent/key } }',
      'boards:',
      '  - name: pi-01',
      '    plays: rep-iad',
      `    serial: { path: ${serialPath} }`,
      '    relay: { bcmPin: 17, activeLow: true }',
      `    ssh: { host: 127.0.0.1, port: ${sshPort}, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO8PLnJ0sbmzIv0RzyOAKuR7yg3V4OVLhb7ahVmw9NrB x" }`,
      `    sdCard: { device: ${join(dir, 'not-a-card.img')} }`,
    ].join('\n'));
    return file;
  }

  it('reports each resource of a board: present, wrong, or missing', async () => {
    const findings = await doctor(loadInventory(inventory(join(dir, 'ttyUSB0'), 1)), { gpioRoot: join(dir, 'gpio'), sshTimeoutMs: 2000 });
    const status = (resource: string) => findings.filter((f) => f.resource === resource).map((f) => f.status);
    assert.deepEqual(status('serial'), ['ok', 'warn'], 'present, but not a by-id path');
    assert.deepEqual(status('relay'), ['ok']);
    assert.match(findings.find((f) => f.resource === 'relay')!.detail, /BCM 17 is sysfs gpio529/);
    assert.deepEqual(status('ssh'), ['fail'], 'nothing listens on port 1');
    assert.deepEqual(status('sd-card'), ['fail'], 'a regular file is not a card');
  });

  it('fails a serial adapter that is not plugged in, and a relay without a Pi GPIO controller', async () => {
    const findings = await doctor(loadInventory(inventory(join(dir, 'ttyUSB9'), 1)), { gpioRoot: join(dir, 'no-gpio'), sshTimeoutMs: 2000 });
    assert.match(findings.find((f) => f.resource === 'serial' && f.status === 'fail')!.detail, /ttyUSB9 does not exist/);
    assert.equal(findings.find((f) => f.resource === 'relay')!.status, 'fail');
  });
});
