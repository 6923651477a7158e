import { strict as assert } from 'node:assert';
import { open, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../src/host-command';
import { FIRST_RUN_HOOK, type FirstBootSettings } from '../src/drivers/flash/first-boot';
import { flash, FlashError } from '../src/drivers/flash/flash';
import type { FlashProgress } from '../src/drivers/flash/write-image';
import { Cleanup } from '../src/testing/cleanup';
import { attachLoop } from './support/loop-device';
import { buildPiImage, mtype, sha256OfFile, TEST_CMDLINE } from './support/pi-image';
import { makeTempDir, removeTempDir } from '../src/testing/temp-dir';
import { giveUdevSerial } from './support/udev-serial';

const SETTINGS: FirstBootSettings = {
  hostname: 'server-eu1',
  user: 'synrace',
  authorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKx2w0vjz7TqY0b1Yw0p6m0oQq7pQnNn0Hm0tqZ0n4Uv synrace@lab'],
  management: { address: '10.77.0.21/24' },
};

async function firstMiBIsZero(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  const head = Buffer.alloc(1 << 20);
  await handle.read(head, 0, head.length, 0);
  await handle.close();
  return head.every((b) => b === 0);
}

/** A Pi OS image's shape at a size this host writes, verifies and hashes in seconds; still larger than the 64 MiB card. */
const BOOT_MIB = 64;
const ROOT_MIB = 96;
/** The partition table's first MiB, then the partitions. */
const IMAGE_BYTES = (1 + BOOT_MIB + ROOT_MIB) << 20;

describe('flash: guard -> write -> verify -> customise', function () {
  this.timeout(120000);
  const cleanup = new Cleanup();
  let dir: string;
  let image: string;
  let bootOffset: number;

  before(async () => {
    dir = await makeTempDir('flash');
    cleanup.add('remove temp dir', () => removeTempDir(dir));
    image = join(dir, 'raspios-test.img');
    ({ bootOffsetBytes: bootOffset } = await buildPiImage(image, { bootMiB: BOOT_MIB, rootMiB: ROOT_MIB }));
    await run(['xz', '--keep', '-1', '--threads=0', image], { timeoutMs: 120000 });
  });

  after(() => cleanup.run());

  async function card(size: string, serial?: string): Promise<{ backing: string; device: string }> {
    const backing = join(dir, `card-${Math.random().toString(36).slice(2)}.bin`);
    await run(['truncate', '--size', size, backing]);
    const device = await attachLoop(backing, cleanup);
    if (serial !== undefined) await giveUdevSerial(device, serial, cleanup);
    return { backing, device };
  }

  for (const format of ['img.xz', 'img'] as const) {
    it(`flashes an .${format} onto the card the inventory names by serial, and customises its boot partition`, async function () {
      const serial = `SYNRACE-${format === 'img' ? 'RAW' : 'XZ'}`;
      const { backing, device } = await card('600M', serial);
      const byId = join(dir, `usb-reader-${serial}`); // like /dev/disk/by-id/...
      await symlink(device, byId);
      const updates: FlashProgress[] = [];
      const source = format === 'img' ? image : `${image}.xz`;
      const summary = await flash({ image: source, card: { device: byId, serial }, firstBoot: SETTINGS, onProgress: (p) => updates.push(p) });

      const imageBytes = IMAGE_BYTES;
      assert.equal(summary.device, device);
      assert.equal(summary.bytes, imageBytes);
      assert.equal(summary.sha256, await sha256OfFile(image));
      assert.ok(summary.seconds > 0 && Math.abs(summary.megabytesPerSecond - imageBytes / 1e6 / summary.seconds) < 1e-6);
      assert.deepEqual(summary.bootFiles, ['firstrun.sh', 'cmdline.txt']);
      assert.deepEqual(summary.guard.reasons, [`allowed by inventory serial ${serial} although not a removable device (unknown transport)`]);
      assert.equal(updates.filter((p) => p.phase === 'write').at(-1)?.bytes, imageBytes);
      assert.equal(updates.filter((p) => p.phase === 'verify').at(-1)?.bytes, imageBytes);
      assert.match(updates.map((p) => `${p.phase} `).join(''), /^(write )+(verify )+$/, 'verify follows write');

      assert.match(await mtype(device, bootOffset, 'firstrun.sh'), /set_hostname 'server-eu1'\n[\s\S]*address1=10\.77\.0\.21\/24\n/);
      assert.equal(await mtype(backing, bootOffset, 'cmdline.txt'), `${TEST_CMDLINE.trim()} ${FIRST_RUN_HOOK}\n`, 'the card itself holds it');
      const root = { start: bootOffset + (BOOT_MIB << 20), length: ROOT_MIB << 20 };
      assert.equal(await sha256OfFile(backing, root), await sha256OfFile(image, root), 'customising left the root partition as written');
      console.log(`      ${format}: ${(summary.bytes / 1e6).toFixed(0)} MB written in ${summary.seconds.toFixed(2)} s = ${summary.megabytesPerSecond.toFixed(0)} MB/s (loop device)`);
    });
  }

  it('stops at the guard, writing nothing, when the card has no serial the inventory could name', async () => {
    const { backing, device } = await card('600M');
    await assert.rejects(flash({ image, card: { device }, firstBoot: SETTINGS }), (err: unknown) => {
      assert.ok(err instanceof FlashError);
      assert.equal(err.step, 'guard');
      assert.match(err.message, new RegExp(`^flash ${device}, step "guard": refusing to write ${device}: not a removable device`));
      return true;
    });
    assert.ok(await firstMiBIsZero(backing));
  });

  it('checks the first-boot settings before touching the device', async () => {
    const { device } = await card('8M');
    await assert.rejects(flash({ image, card: { device }, firstBoot: { ...SETTINGS, hostname: 'bad_name' } }), (err: unknown) =>
      err instanceof FlashError && err.step === 'settings' && /hostname: "bad_name"/.test(err.message));
  });

  it('refuses an image larger than the card before writing', async function () {
    const { backing, device } = await card('64M', 'SYNRACE-SMALL');
    await assert.rejects(flash({ image: `${image}.xz`, card: { device, serial: 'SYNRACE-SMALL' }, firstBoot: SETTINGS }), (err: unknown) =>
      err instanceof FlashError && err.step === 'image' && err.message.includes(`needs ${IMAGE_BYTES} bytes; ${device} has ${64 << 20}`));
    assert.ok(await firstMiBIsZero(backing));
  });
});
