// Lays out a Raspberry Pi OS-shaped disk image from a root directory, without mounting anything (no loop
// device, no vfat driver on the host): an MBR (disk id <id>, so root=PARTUUID=<id>-02 works as on a Pi), a
// FAT32 boot partition of type 0c at 4 MiB holding the firmware's files, and an ext4 root filled by
// mke2fs -d straight from the directory at its offset in the image file.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../host-command';

const SECTOR = 512;
/** Pi OS images start the boot partition at 4 MiB (sector 8192). */
const BOOT_START_SECTORS = 8192;

export interface DiskLayoutInput {
  image: string;
  /** 8 hex digits. */
  diskId: string;
  bootMiB: number;
  /** Name in the FAT -> content (text) or a host file to copy (binary). */
  bootFiles: Record<string, { text: string } | { file: string }>;
  rootDir: string;
  rootMiB: number;
  rootLabel: string;
}

export interface DiskLayout {
  bootOffsetBytes: number;
  rootOffsetBytes: number;
  sizeBytes: number;
}

export async function layOutDisk(input: DiskLayoutInput): Promise<DiskLayout> {
  const bootSectors = input.bootMiB * 2048;
  const rootStart = BOOT_START_SECTORS + bootSectors;
  const rootSectors = input.rootMiB * 2048;
  const sizeBytes = (rootStart + rootSectors) * SECTOR;
  await rm(input.image, { force: true });
  await run(['truncate', '--size', String(sizeBytes), input.image]);
  await run(['sfdisk', '--quiet', input.image], {
    input: `label: dos\nlabel-id: 0x${input.diskId}\nstart=${BOOT_START_SECTORS}, size=${bootSectors}, type=c\nstart=${rootStart}, size=${rootSectors}, type=83\n`,
  });
  // One sector per cluster keeps a small FAT32 above its 65525-cluster minimum, which mtools enforces.
  await run(['mkfs.vfat', '-F', '32', '-s', '1', '-n', 'bootfs', '--offset', String(BOOT_START_SECTORS), input.image, String(bootSectors / 2)]);
  const drive = `${input.image}@@${BOOT_START_SECTORS * SECTOR}`;
  const staging = await mkdtemp(join(input.rootDir, '..', 'boot-files-'));
  try {
    for (const [name, source] of Object.entries(input.bootFiles)) {
      let from: string;
      if ('text' in source) {
        from = join(staging, name);
        await writeFile(from, source.text);
      } else from = source.file;
      await run(['mcopy', '-i', drive, from, `::/${name}`], { timeoutMs: 120_000 });
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  // mke2fs takes the size in KiB after the offset; -d copies owners, modes, links and device nodes.
  await run(
    ['mkfs.ext4', '-F', '-q', '-L', input.rootLabel, '-m', '1', '-d', input.rootDir, '-E', `offset=${rootStart * SECTOR}`, input.image, `${rootSectors / 2}k`],
    { timeoutMs: 600_000 },
  );
  return { bootOffsetBytes: BOOT_START_SECTORS * SECTOR, rootOffsetBytes: rootStart * SECTOR, sizeBytes };
}
