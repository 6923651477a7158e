import { randomBytes } from 'node:crypto';
import { open, rm, writeFile } from 'node:fs/promises';
import { run } from '../../src/host-command';

export const TEST_CMDLINE = 'console=serial0,115200 console=tty1 root=PARTUUID=5e3da3da-02 rootfstype=ext4 fsck.repair=yes rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot\n';

export interface PiImageLayout {
  bootMiB: number;
  rootMiB: number;
  /** Files put in the boot partition; cmdline.txt and config.txt by default. */
  bootFiles?: Record<string, string>;
}

/**
 * Builds a Raspberry Pi OS-shaped image from scratch: an MBR with a FAT32 boot partition
 * (type 0c at 1 MiB, like the real images) and a Linux root partition whose first MiBs are
 * random, so a verification that skipped bytes would notice. No mount, no loop device.
 */
export async function buildPiImage(path: string, layout: PiImageLayout): Promise<{ bootOffsetBytes: number; rootOffsetBytes: number }> {
  const bootStart = 2048;
  const bootSectors = layout.bootMiB * 2048;
  const rootStart = bootStart + bootSectors;
  const rootSectors = layout.rootMiB * 2048;
  const handle = await open(path, 'w');
  await handle.truncate((rootStart + rootSectors) * 512);
  await handle.write(randomBytes(Math.min(layout.rootMiB, 4) << 20), 0, undefined, rootStart * 512);
  await handle.close();
  await run(['sfdisk', '--quiet', path], { input: `label: dos\nstart=${bootStart}, size=${bootSectors}, type=c\nstart=${rootStart}, size=${rootSectors}, type=83\n` });
  // --offset is in sectors, the block count in KiB. mkfs.vfat picks the cluster size from the
  // whole file's size, which can leave a small FAT32 under its 65525-cluster minimum (mtools
  // then refuses it): one sector per cluster keeps any boot size from 33 MiB up valid.
  await run(['mkfs.vfat', '-F', '32', '-s', '1', '-n', 'BOOTFS', '--offset', String(bootStart), path, String(bootSectors / 2)]);
  const files = layout.bootFiles ?? { 'cmdline.txt': TEST_CMDLINE, 'config.txt': '[all]\narm_64bit=1\nenable_uart=1\n' };
  const staged = `${path}.boot-file`;
  for (const [name, content] of Object.entries(files)) {
    await writeFile(staged, content);
    await run(['mcopy', '-i', `${path}@@${bootStart * 512}`, staged, `::/${name}`]);
  }
  await rm(staged, { force: true });
  return { bootOffsetBytes: bootStart * 512, rootOffsetBytes: rootStart * 512 };
}

/** sha256 of the whole file, or of `length` bytes from `start`, by coreutils rather than the code under test. */
export async function sha256OfFile(path: string, range?: { start: number; length: number }): Promise<string> {
  const argv = range === undefined ? ['sha256sum', path] : ['sh', '-c', `tail -c +${range.start + 1} "$1" | head -c ${range.length} | sha256sum`, 'sh', path];
  return (await run(argv)).stdout.split(' ')[0];
}

/** Reads a file from a FAT inside `target` with mtype, independent of the code under test. */
export async function mtype(target: string, offsetBytes: number, name: string): Promise<string> {
  return (await run(['mtype', '-i', `${target}@@${offsetBytes}`, `::/${name}`])).stdout;
}
