// What a Raspberry Pi's firmware does at every power-on, for a QEMU board: read config.txt and cmdline.txt
// from the first FAT partition of the disk and load the kernel and initramfs named there. Reading them at
// every start, never caching, is the point: firstrun.sh and imager_fixup edit cmdline.txt and reboot, and
// the next boot must see the edit.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { copyBootFileOut, findBootPartition, readBootFile } from '../drivers/flash/boot-partition';
import type { BoardArch } from '../image/image-recipe';

export interface FirmwareBoot {
  kernel: string;
  initrd: string | undefined;
  /** cmdline.txt with `serial0` replaced by the machine's UART, as the Pi firmware does. */
  cmdline: string;
}

export class FirmwareBootError extends Error {
  constructor(readonly disk: string, message: string) {
    super(`${disk}: ${message}`);
    this.name = 'FirmwareBootError';
  }
}

/** The UART each QEMU machine gives the kernel: the 16550 of a PC, the PL011 of arm64 `virt` (a Pi's too). */
export const SERIAL_DEVICE: Record<BoardArch, string> = { amd64: 'ttyS0', arm64: 'ttyAMA0' };

/** The `kernel=` and `initramfs` settings of config.txt (the last one wins, as in the firmware). */
export function parseConfigTxt(text: string | undefined): { kernel: string; initramfs: string | undefined } {
  let kernel = 'kernel8.img';
  let initramfs: string | undefined;
  for (const raw of (text ?? '').split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const setting = /^kernel\s*=\s*(\S+)$/.exec(line);
    if (setting) kernel = setting[1];
    const ramfs = /^initramfs\s+(\S+)/.exec(line);
    if (ramfs) initramfs = ramfs[1];
  }
  return { kernel, initramfs };
}

/** cmdline.txt as the kernel gets it: one line, the Pi's serial0 alias resolved. */
export function kernelCommandLine(cmdlineTxt: string, arch: BoardArch): string {
  return cmdlineTxt
    .trim()
    .split(/\s+/)
    .map((arg) => arg.replace(/^console=serial0(?=,|$)/, `console=${SERIAL_DEVICE[arch]}`))
    .join(' ');
}

/** Reads the boot partition of `disk` and copies the kernel and initramfs into `workDir`. */
export async function readFirmwareBoot(disk: string, arch: BoardArch, workDir: string): Promise<FirmwareBoot> {
  const part = await findBootPartition(disk).catch((err: Error) => {
    throw new FirmwareBootError(disk, `${err.message}; flash a board image onto it first (synrace image build, then flash)`);
  });
  const config = parseConfigTxt(await readBootFile(part, 'config.txt'));
  const cmdline = await readBootFile(part, 'cmdline.txt');
  if (cmdline === undefined) throw new FirmwareBootError(disk, 'the boot partition has no cmdline.txt: not a board image');
  await mkdir(workDir, { recursive: true });
  const kernel = join(workDir, 'kernel');
  if (!(await copyBootFileOut(part, config.kernel, kernel))) {
    throw new FirmwareBootError(disk, `the boot partition has no kernel ${config.kernel} (config.txt kernel=): rebuild the image (synrace image build --rebuild) and flash it again`);
  }
  let initrd: string | undefined;
  if (config.initramfs !== undefined) {
    initrd = join(workDir, 'initrd');
    if (!(await copyBootFileOut(part, config.initramfs, initrd))) {
      throw new FirmwareBootError(disk, `the boot partition has no initramfs ${config.initramfs} that config.txt names: rebuild the image and flash it again`);
    }
  }
  return { kernel, initrd, cmdline: kernelCommandLine(cmdline, arch) };
}
