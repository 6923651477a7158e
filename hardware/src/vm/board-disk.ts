// A QEMU board's SD card is a file: flashing it is `flash` without the device guard (a regular file that
// this lab owns is not a card that might be someone's disk). The same writer, read-back verify and
// first-boot customisation run, so a QEMU board starts exactly as a flashed Pi does.
import { existsSync } from 'node:fs';
import { customiseBootPartition } from '../drivers/flash/boot-partition';
import { validateFirstBootSettings, type FirstBootSettings } from '../drivers/flash/first-boot';
import { openImageSource } from '../drivers/flash/image-source';
import { verifyImage, writeImage, type ProgressListener } from '../drivers/flash/write-image';

export interface FlashBoardDiskOptions {
  /** A board image (.img or .img.xz), e.g. buildBoardImage's path. */
  image: string;
  /** The board's disk file; created or overwritten. */
  disk: string;
  firstBoot: FirstBootSettings;
  onProgress?: ProgressListener;
}

export interface FlashBoardDiskSummary {
  bytes: number;
  seconds: number;
  sha256: string;
  bootFiles: string[];
}

export async function flashBoardDisk(options: FlashBoardDiskOptions): Promise<FlashBoardDiskSummary> {
  // Before a byte is written, as flash() does: a bad hostname should not cost a 1.5 GB write.
  validateFirstBootSettings(options.firstBoot);
  if (!existsSync(options.image)) {
    throw new Error(`board image ${options.image} does not exist: build one with buildBoardImage (synrace image build --arch amd64|arm64) and flash the path it returns`);
  }
  const source = await openImageSource(options.image);
  const written = await writeImage(source, options.disk, options.onProgress);
  await verifyImage(source, options.disk, written, options.onProgress);
  const bootFiles = await customiseBootPartition(options.disk, options.firstBoot);
  return { bytes: written.bytes, seconds: written.seconds, sha256: written.sha256, bootFiles };
}
