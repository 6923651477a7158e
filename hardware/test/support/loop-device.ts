import { run } from '../../src/host-command';
import type { Cleanup } from '../../src/testing/cleanup';

/** Attaches `file` to a free loop device, detached again by `cleanup`. */
export async function attachLoop(file: string, cleanup: Cleanup, opts: { partitions?: boolean } = {}): Promise<string> {
  const { stdout } = await run(['losetup', '--find', '--show', ...(opts.partitions ? ['--partscan'] : []), file]);
  const device = stdout.trim();
  cleanup.add(`detach ${device}`, () => run(['losetup', '--detach', device]));
  if (opts.partitions) {
    // Without udev nobody creates /dev/loopNpM; partx does (and they vanish with the device).
    await run(['partx', '--add', device], { allowFail: true });
  }
  return device;
}

/** Mounts `device` on `dir`, unmounted again by `cleanup`. */
export async function mountDevice(device: string, dir: string, cleanup: Cleanup): Promise<void> {
  await run(['mount', device, dir]);
  cleanup.add(`unmount ${dir}`, () => run(['umount', dir]));
}
