import { strict as assert } from 'node:assert';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listGpioChips, sysfsGpioNumber } from '../src/drivers/power/gpio-numbering';
import { makeTempDir, removeTempDir } from '../src/testing/temp-dir';

describe('sysfs GPIO numbering of BCM pins', () => {
  let root: string | undefined;

  async function sysfsWith(chips: { base: number; ngpio: number; label: string }[]): Promise<string> {
    root = await makeTempDir('gpio-numbering');
    for (const chip of chips) {
      const dir = join(root, `gpiochip${chip.base}`);
      await mkdir(dir);
      await writeFile(join(dir, 'base'), `${chip.base}\n`);
      await writeFile(join(dir, 'ngpio'), `${chip.ngpio}\n`);
      await writeFile(join(dir, 'label'), `${chip.label}\n`);
    }
    await writeFile(join(root, 'export'), '');
    return root;
  }

  afterEach(async () => {
    await removeTempDir(root);
    root = undefined;
  });

  it('adds the Pi 4 chip base to the pin, ignoring the firmware expander chip', async () => {
    const dir = await sysfsWith([
      { base: 570, ngpio: 8, label: 'raspberrypi-exp-gpio' },
      { base: 512, ngpio: 58, label: 'pinctrl-bcm2711' },
    ]);
    assert.equal(await sysfsGpioNumber(17, dir), 529);
    assert.equal(await sysfsGpioNumber(0, dir), 512);
  });

  it('finds the Pi 5 header on the RP1 chip and the old base 0 of older kernels', async () => {
    assert.equal(await sysfsGpioNumber(4, await sysfsWith([{ base: 571, ngpio: 54, label: 'pinctrl-rp1' }])), 575);
    await removeTempDir(root);
    assert.equal(await sysfsGpioNumber(27, await sysfsWith([{ base: 0, ngpio: 54, label: 'pinctrl-bcm2835' }])), 27);
  });

  it('reads every chip with its attributes', async () => {
    const dir = await sysfsWith([
      { base: 512, ngpio: 54, label: 'pinctrl-bcm2711' },
      { base: 566, ngpio: 8, label: 'raspberrypi-exp-gpio' },
    ]);
    const chips = (await listGpioChips(dir)).sort((a, b) => a.base - b.base);
    assert.deepEqual(chips, [
      { name: 'gpiochip512', base: 512, ngpio: 54, label: 'pinctrl-bcm2711' },
      { name: 'gpiochip566', base: 566, ngpio: 8, label: 'raspberrypi-exp-gpio' },
    ]);
  });

  it('refuses a pin the chip does not have', async () => {
    const dir = await sysfsWith([{ base: 512, ngpio: 54, label: 'pinctrl-bcm2711' }]);
    await assert.rejects(sysfsGpioNumber(54, dir), /BCM pin 54 is out of range for gpiochip512 "pinctrl-bcm2711", which has lines 0-53/);
    await assert.rejects(sysfsGpioNumber(-1, dir), /BCM pin -1 is out of range/);
    await assert.rejects(sysfsGpioNumber(2.5, dir), /BCM pin 2.5 is out of range/);
  });

  it('names the chips it found when none is a Pi GPIO chip', async () => {
    const dir = await sysfsWith([{ base: 600, ngpio: 8, label: 'raspberrypi-exp-gpio' }]);
    await assert.rejects(sysfsGpioNumber(17, dir), /no Raspberry Pi GPIO chip .* found: gpiochip600 "raspberrypi-exp-gpio"/);
  });

  it('says that GPIO sysfs is missing when the root does not exist', async () => {
    const dir = await sysfsWith([]);
    await assert.rejects(sysfsGpioNumber(17, join(dir, 'absent')), /cannot list GPIO chips in .*absent \(is the kernel built with CONFIG_GPIO_SYSFS\?\): ENOENT/);
    await assert.rejects(sysfsGpioNumber(17, dir), /no Raspberry Pi GPIO chip .* found: none/);
  });
});
