import type { FileHandle } from 'node:fs/promises';
import type { SdCardResource } from '../../resources';
import { customiseBootPartition } from './boot-partition';
import { guardDevice, type DeviceVerdict } from './device-guard';
import { validateFirstBootSettings, type FirstBootSettings } from './first-boot';
import { openImageSource } from './image-source';
import { verifyImage, writeImage, type ProgressListener } from './write-image';

export type FlashStep = 'settings' | 'guard' | 'image' | 'write' | 'verify' | 'customise';

export class FlashError extends Error {
  constructor(readonly step: FlashStep, readonly device: string, readonly cause: Error) {
    super(`flash ${device}, step "${step}": ${cause.message}`);
    this.name = 'FlashError';
  }
}

export interface FlashOptions {
  /** .img or .img.xz */
  image: string;
  /** The inventory's card: its device, and the serial that allows a fixed or mounted device. */
  card: SdCardResource;
  firstBoot: FirstBootSettings;
  onProgress?: ProgressListener;
}

export interface FlashSummary {
  device: string;
  image: string;
  bytes: number;
  /** Write time, fsync included; verification not included. */
  seconds: number;
  megabytesPerSecond: number;
  /** Of the image as written and read back, before customisation. */
  sha256: string;
  /** What the guard checked, and any risk the inventory's serial overrode. */
  guard: DeviceVerdict;
  bootFiles: string[];
}

async function step<T>(name: FlashStep, device: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (err) {
    throw new FlashError(name, device, err as Error);
  }
}

/** Linux's device number encoding: major in bits 8-19 and 32-43, minor in bits 0-7 and 20-31. */
function majMinOf(rdev: bigint): string {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/**
 * The guard once more, on the open descriptor, before the first byte: the path must still lead to the
 * device that was judged, and the host must still not be using it (it may have mounted it meanwhile).
 */
async function recheck(handle: FileHandle, device: string, serial: string | undefined, guard: DeviceVerdict): Promise<void> {
  const opened = majMinOf((await handle.stat({ bigint: true })).rdev);
  const again = await guardDevice(device, serial);
  for (const now of [opened, again.facts.majMin]) {
    if (now !== guard.facts.majMin) throw new Error(`${device} now leads to device ${now}, not to ${guard.facts.majMin}, which was checked`);
  }
}

/** guard -> write (with progress) -> read-back verify -> customise the boot partition. */
export async function flash(options: FlashOptions): Promise<FlashSummary> {
  const { device, serial } = options.card;
  // Checked before anything is written: a typo in the inventory should not cost a card write.
  await step('settings', device, async () => validateFirstBootSettings(options.firstBoot));
  const guard = await step('guard', device, () => guardDevice(device, serial));
  const target = guard.facts.device;
  const source = await step('image', device, async () => {
    const opened = await openImageSource(options.image);
    if (opened.size !== undefined && opened.size > guard.facts.sizeBytes) {
      throw new Error(`${options.image} needs ${opened.size} bytes; ${target} has ${guard.facts.sizeBytes}`);
    }
    return opened;
  });
  const written = await step('write', device, () => writeImage(source, target, options.onProgress, (handle) => recheck(handle, device, serial, guard)));
  await step('verify', device, () => verifyImage(source, target, written, options.onProgress));
  const bootFiles = await step('customise', device, () => customiseBootPartition(target, options.firstBoot));
  return {
    device: target,
    image: options.image,
    bytes: written.bytes,
    seconds: written.seconds,
    megabytesPerSecond: written.seconds > 0 ? written.bytes / 1e6 / written.seconds : 0,
    sha256: written.sha256,
    guard,
    bootFiles,
  };
}
