import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Cleanup } from '../../src/testing/cleanup';

const UDEV_RUN = '/run/udev';

/**
 * Gives a block device the serial udev records for a USB card reader (ID_SERIAL_SHORT), by
 * writing the udev database entry lsblk reads. Loop devices have no serial of their own; this
 * lets the guard's real lsblk path see one. Refuses when a udevd runs, whose database it would disturb.
 */
export async function giveUdevSerial(device: string, serial: string, cleanup: Cleanup): Promise<void> {
  if (existsSync(`${UDEV_RUN}/control`)) throw new Error('udevd is running; not editing its database');
  const majMin = (await readFile(`/sys/block/${basename(device)}/dev`, 'utf8')).trim();
  const createdRun = !existsSync(UDEV_RUN);
  await mkdir(`${UDEV_RUN}/data`, { recursive: true });
  const entry = `${UDEV_RUN}/data/b${majMin}`;
  await writeFile(entry, `E:ID_SERIAL_SHORT=${serial}\nE:ID_SERIAL=synrace_test_reader_${serial}\n`);
  cleanup.add(`remove udev entry ${entry}`, () => rm(createdRun ? UDEV_RUN : entry, { recursive: true, force: true }));
}
