import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Labels of the chip that carries the Pi's 40-pin header lines, by SoC (the Pi 5's header is on the RP1). */
export const PI_HEADER_CHIP_LABELS = ['pinctrl-bcm2835', 'pinctrl-bcm2711', 'pinctrl-rp1'] as const;

export const SYSFS_GPIO_ROOT = '/sys/class/gpio';

/** One /sys/class/gpio/gpiochipN entry. */
export interface GpioChip {
  name: string;
  base: number;
  ngpio: number;
  label: string;
}

export async function listGpioChips(root = SYSFS_GPIO_ROOT): Promise<GpioChip[]> {
  const entries = await readdir(root).catch((err: Error) => {
    throw new Error(`cannot list GPIO chips in ${root} (is the kernel built with CONFIG_GPIO_SYSFS?): ${err.message}`, { cause: err });
  });
  const names = entries.filter((name) => /^gpiochip\d+$/.test(name));
  return Promise.all(
    names.map(async (name) => {
      const attribute = async (file: string) => (await readFile(join(root, name, file), 'utf8')).trim();
      return { name, base: Number(await attribute('base')), ngpio: Number(await attribute('ngpio')), label: await attribute('label') };
    }),
  );
}

/**
 * The sysfs line number of a BCM pin: the header chip's base plus the pin.
 * Current kernels (Raspberry Pi OS since 6.6) give chips bases from 512 up, so
 * assuming base 0 would export some other line or fail with EINVAL.
 */
export async function sysfsGpioNumber(bcmPin: number, root = SYSFS_GPIO_ROOT): Promise<number> {
  const chips = await listGpioChips(root);
  const chip = chips.find((c) => (PI_HEADER_CHIP_LABELS as readonly string[]).includes(c.label));
  if (chip === undefined) {
    const found = chips.length === 0 ? 'none' : chips.map((c) => `${c.name} "${c.label}"`).join(', ');
    throw new Error(`no Raspberry Pi GPIO chip (${PI_HEADER_CHIP_LABELS.join(', ')}) in ${root}; found: ${found}`);
  }
  if (!Number.isInteger(bcmPin) || bcmPin < 0 || bcmPin >= chip.ngpio) {
    throw new Error(`BCM pin ${bcmPin} is out of range for ${chip.name} "${chip.label}", which has lines 0-${chip.ngpio - 1}`);
  }
  return chip.base + bcmPin;
}
