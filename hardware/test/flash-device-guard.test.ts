import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdir, readFile, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { run } from '../src/host-command';
import {
  describeDevice, guardDevice, judgeDevice, parseMountinfo, DeviceRefusedError, type DeviceInputs,
} from '../src/drivers/flash/device-guard';
import { openImageSource } from '../src/drivers/flash/image-source';
import { writeImage } from '../src/drivers/flash/write-image';
import { Cleanup } from '../src/testing/cleanup';
import { skipBecause } from '../src/testing/skip';
import { attachLoop, mountDevice } from './support/loop-device';
import { giveUdevSerial } from './support/udev-serial';
import { makeTempDir, removeTempDir } from '../src/testing/temp-dir';

interface Node { name: string; kname?: string; majMin: string; rm?: boolean; serial?: string; type: string; size?: number; tran?: string; fstype?: string; children?: Node[] }
const lsblkJson = (n: Node): object => ({
  name: n.name, kname: n.kname ?? n.name, 'maj:min': n.majMin, rm: n.rm ?? false, serial: n.serial ?? null,
  mountpoints: [null], type: n.type, size: n.size ?? 31_914_983_424, tran: n.tran ?? null, fstype: n.fstype ?? null,
  ...(n.children ? { children: n.children.map(lsblkJson) } : {}),
});
const inputs = (n: Node, mountinfo: string[] = [], sysfs: Partial<DeviceInputs> = {}): DeviceInputs => ({
  lsblk: JSON.stringify({ blockdevices: [lsblkJson(n)] }),
  sysfsRemovable: n.type === 'part' ? undefined : `${n.rm ? 1 : 0}\n`,
  sysfsSerial: undefined,
  mountinfo: ['22 27 0:21 / /proc rw,relatime - proc proc rw', ...mountinfo].join('\n') + '\n',
  swaps: 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n',
  ...sysfs,
});
const verdict = (device: string, i: DeviceInputs, allowSerial?: string) => judgeDevice(describeDevice(device, i), allowSerial);

const usbReader: Node = {
  name: 'sdb', majMin: '8:16', rm: true, serial: '000000001206', type: 'disk', tran: 'usb',
  children: [{ name: 'sdb1', majMin: '8:17', type: 'part' }, { name: 'sdb2', majMin: '8:18', type: 'part' }],
};
const hostNvme: Node = {
  name: 'nvme0n1', majMin: '259:0', serial: 'S4EWNX0R123456', type: 'disk', tran: 'nvme',
  children: [
    { name: 'nvme0n1p1', majMin: '259:1', type: 'part' },
    { name: 'nvme0n1p2', majMin: '259:2', type: 'part' },
    { name: 'nvme0n1p3', majMin: '259:3', type: 'part', children: [{ name: 'home', kname: 'dm-0', majMin: '254:0', type: 'crypt' }] },
  ],
};

describe('flash: device guard rules (injected host data)', () => {
  it('allows an unmounted removable card, and checks the inventory serial when one is named', () => {
    assert.deepEqual(verdict('/dev/sdb', inputs(usbReader)), {
      allowed: true, reasons: [],
      facts: { device: '/dev/sdb', majMin: '8:16', type: 'disk', removable: true, serial: '000000001206', sizeBytes: 31_914_983_424, transport: 'usb', mounts: [], inUse: [] },
    });
    assert.equal(verdict('/dev/sdb', inputs(usbReader), '000000001206').allowed, true);
    const other = verdict('/dev/sdb', inputs(usbReader), '000000009999');
    assert.equal(other.allowed, false);
    assert.deepEqual(other.reasons, ['its serial is 000000001206, the inventory expects 000000009999']);
  });

  it('refuses a card with an auto-mounted partition, saying what is mounted where, whatever serial the inventory names', () => {
    const mounted = inputs(usbReader, ['301 27 8:17 / /media/me/boot\\040fs rw,nosuid shared:180 - vfat /dev/sdb1 rw']);
    for (const serial of [undefined, '000000001206']) {
      const refused = verdict('/dev/sdb', mounted, serial);
      assert.equal(refused.allowed, false);
      assert.deepEqual(refused.reasons, [
        'holds mounted filesystems of this host: /dev/sdb1 on /media/me/boot fs',
        'the host is using it: no inventory serial overrides that',
      ]);
    }
  });

  it('refuses a device the host uses as swap, or as an LVM or RAID member, whatever serial the inventory names', () => {
    const swapping = inputs(usbReader, [], { swaps: 'Filename\tType\tSize\tUsed\tPriority\n/dev/sdb2                               partition\t1048572\t\t0\t\t-2\n' });
    assert.deepEqual(verdict('/dev/sdb', swapping, '000000001206').reasons, ['/dev/sdb2 is in use as swap', 'the host is using it: no inventory serial overrides that']);
    const lvm: Node = { ...usbReader, children: [{ name: 'sdb1', majMin: '8:17', type: 'part', fstype: 'LVM2_member', children: [{ name: 'vg-data', kname: 'dm-1', majMin: '254:1', type: 'lvm' }] }] };
    assert.deepEqual(verdict('/dev/sdb', inputs(lvm), '000000001206').reasons, ['/dev/sdb1 is an LVM physical volume', 'the host is using it: no inventory serial overrides that']);
    const raid: Node = { ...usbReader, fstype: 'linux_raid_member', children: [{ name: 'md0', majMin: '9:0', type: 'raid1' }] };
    assert.deepEqual(verdict('/dev/sdb', inputs(raid)).reasons, ['/dev/sdb is a RAID member', 'the host is using it: no inventory serial overrides that']);
  });

  it("refuses the host's own disk: fixed, with partitions and an encrypted volume on it mounted", () => {
    const mountinfo = [
      '27 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw',
      '28 27 259:1 / /boot/efi rw,relatime shared:2 - vfat /dev/nvme0n1p1 rw',
      '29 27 254:0 / /home rw,relatime shared:3 - ext4 /dev/mapper/home rw',
      '30 27 8:1 / /mnt/other rw,relatime - ext4 /dev/sda1 rw',
    ];
    const v = verdict('/dev/nvme0n1', inputs(hostNvme, mountinfo));
    assert.equal(v.allowed, false);
    assert.deepEqual(v.facts.mounts, [
      { device: '/dev/nvme0n1p2', mountPoint: '/' },
      { device: '/dev/nvme0n1p1', mountPoint: '/boot/efi' },
      { device: '/dev/mapper/home', mountPoint: '/home' },
    ]);
    assert.match(v.reasons[0], /^holds mounted filesystems of this host: \/dev\/nvme0n1p2 on \/, /);
    const err = new DeviceRefusedError(v);
    assert.match(err.message, /^refusing to write \/dev\/nvme0n1: holds mounted filesystems of this host: /);
  });

  it('sees a btrfs mount, which mountinfo lists under an anonymous device number, by its source', () => {
    const v = verdict('/dev/sdb', inputs(usbReader, ['40 27 0:45 / /data rw - btrfs /dev/sdb2 rw']));
    assert.deepEqual(v.facts.mounts, [{ device: '/dev/sdb2', mountPoint: '/data' }]);
  });

  it('refuses a partition whatever the serial, and a device without the serial the inventory names', () => {
    const part = verdict('/dev/sdb1', inputs({ name: 'sdb1', majMin: '8:17', type: 'part' }), '000000001206');
    assert.deepEqual([part.allowed, part.reasons], [false, ['it is a part, not a whole disk']]);
    const anonymous = verdict('/dev/sdc', inputs({ name: 'sdc', majMin: '8:32', rm: true, type: 'disk' }), 'ABC');
    assert.deepEqual(anonymous.reasons, ['the inventory expects serial ABC but the device reports none']);
  });

  it('prefers the kernel serial (sysfs) and removable flag over lsblk', () => {
    const mmc: Node = { name: 'mmcblk0', majMin: '179:0', type: 'disk' };
    const facts = describeDevice('/dev/mmcblk0', inputs(mmc, [], { sysfsSerial: '0x8f3a12c4\n', sysfsRemovable: '1\n' }));
    assert.equal(facts.serial, '0x8f3a12c4');
    assert.equal(facts.removable, true);
  });

  it('parses mountinfo with optional fields and escapes', () => {
    assert.deepEqual(parseMountinfo('36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue\n'), [
      { majMin: '98:0', mountPoint: '/mnt/a b', source: '/dev/root' },
    ]);
  });
});

/** The whole disk holding this host's root filesystem, found through mountinfo and sysfs. */
async function rootDisk(): Promise<string | undefined> {
  const root = parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8')).find((m) => m.mountPoint === '/');
  const sysPath = root && (await realpath(`/sys/dev/block/${root.majMin}`).catch(() => undefined));
  if (sysPath === undefined) return undefined;
  return `/dev/${basename(existsSync(join(sysPath, 'partition')) ? dirname(sysPath) : sysPath)}`;
}

describe('flash: device guard on real devices', function () {
  this.timeout(30000);
  const cleanup = new Cleanup();
  let dir: string;

  before(async () => {
    dir = await makeTempDir('device-guard');
    cleanup.add('remove temp dir', () => removeTempDir(dir));
  });

  after(() => cleanup.run());

  async function loopWith(size: string, opts: { partitions?: boolean } = {}): Promise<string> {
    const file = join(dir, `backing-${Math.random().toString(36).slice(2)}.bin`);
    await run(['truncate', '--size', size, file]);
    if (opts.partitions) await run(['sfdisk', '--quiet', file], { input: 'label: dos\nstart=2048, type=83\n' });
    return attachLoop(file, cleanup, opts);
  }

  it('refuses a loop device: it is not removable, and has no serial to name', async () => {
    const device = await loopWith('8M');
    await assert.rejects(guardDevice(device), (err: unknown) => {
      assert.ok(err instanceof DeviceRefusedError);
      assert.equal(err.verdict.facts.device, device);
      assert.deepEqual(err.verdict.facts.mounts, []);
      assert.deepEqual(err.verdict.reasons, ['not a removable device (unknown transport)', 'it has no serial to name in the inventory']);
      return true;
    });
  });

  it('accepts the same kind of device once the inventory names the serial udev reports for it, and only that serial', async function () {
    const device = await loopWith('8M');
    try {
      await giveUdevSerial(device, 'SYNRACE0001', cleanup);
    } catch (err) {
      skipBecause(this, `a live udevd owns the udev database, so no serial can be faked for a loop device (${(err as Error).message.split('\n')[0]})`);
    }
    const accepted = await guardDevice(device, 'SYNRACE0001');
    assert.equal(accepted.allowed, true);
    assert.equal(accepted.facts.serial, 'SYNRACE0001');
    assert.equal(accepted.facts.sizeBytes, 8 << 20);
    assert.deepEqual(accepted.reasons, ['allowed by inventory serial SYNRACE0001 although not a removable device (unknown transport)']);
    await assert.rejects(guardDevice(device, 'SYNRACE0002'), /its serial is SYNRACE0001, the inventory expects SYNRACE0002/);
    await assert.rejects(guardDevice(device), /name its serial SYNRACE0001 in the inventory to allow it/);
  });

  it('refuses a device with a mounted ext4 partition, naming the partition and where it is mounted', async () => {
    const device = await loopWith('16M', { partitions: true });
    const partition = `${device}p1`;
    assert.ok(existsSync(partition), `partx made ${partition}`);
    await run(['mkfs.ext4', '-q', partition]);
    const mountPoint = join(dir, 'mounted here');
    await mkdir(mountPoint);
    await mountDevice(partition, mountPoint, cleanup);
    await assert.rejects(guardDevice(device), (err: unknown) => {
      assert.ok(err instanceof DeviceRefusedError);
      assert.deepEqual(err.verdict.facts.mounts, [{ device: partition, mountPoint }]);
      assert.ok(err.message.includes(`holds mounted filesystems of this host: ${partition} on ${mountPoint}`), err.message);
      return true;
    });
    await assert.rejects(guardDevice(partition), /it is a part, not a whole disk/);
  });

  it('refuses a device whose partition the host uses as swap, whatever serial the inventory names', async () => {
    const device = await loopWith('16M', { partitions: true });
    const partition = `${device}p1`;
    await run(['mkswap', '-q', partition]);
    await run(['swapon', partition]);
    cleanup.add(`swapoff ${partition}`, () => run(['swapoff', partition]));
    await assert.rejects(guardDevice(device, 'ANY-SERIAL'), (err: unknown) => {
      assert.ok(err instanceof DeviceRefusedError);
      assert.deepEqual(err.verdict.reasons, [`${partition} is in use as swap`, 'the host is using it: no inventory serial overrides that']);
      return true;
    });
  });

  it('opens the device exclusively: a partition mounted after the guard looked stops the write before its first byte', async () => {
    const device = await loopWith('16M', { partitions: true });
    const partition = `${device}p1`;
    await run(['mkfs.ext4', '-q', partition]);
    const mountPoint = join(dir, 'mounted late');
    await mkdir(mountPoint);
    await mountDevice(partition, mountPoint, cleanup);
    const image = join(dir, 'tiny.img');
    await run(['truncate', '--size', '1M', image]);
    await assert.rejects(writeImage(await openImageSource(image), device), /cannot open for writing: .*EBUSY/);
    assert.equal((await run(['blkid', '-o', 'value', '-s', 'TYPE', partition])).stdout.trim(), 'ext4', 'the mounted filesystem is untouched');
  });

  it("refuses the disk holding this host's root filesystem", async function () {
    const disk = await rootDisk();
    assert.ok(disk !== undefined && existsSync(disk), `the disk under / (${disk}) should be a block device here`);
    await assert.rejects(guardDevice(disk!), (err: unknown) => {
      assert.ok(err instanceof DeviceRefusedError);
      assert.ok(err.verdict.facts.mounts.some((m) => m.mountPoint === '/'), JSON.stringify(err.verdict.facts.mounts));
      return true;
    });
  });

  it('refuses paths that are not block devices', async () => {
    await assert.rejects(guardDevice(join(dir, 'nothing')), /nothing does not exist/);
    await assert.rejects(guardDevice('/proc/self/mountinfo'), /\/proc\/self\/mountinfo is not a block device/);
  });
});
