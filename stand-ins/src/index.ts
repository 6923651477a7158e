// Every stand-in for what only hardware has, in one place (labgrid keeps its fakes in driver/fake.py):
// the Pi console simulator on a serial line, a fake GPIO sysfs in a private mount namespace for relays,
// a systemctl for boards whose PID 1 is not systemd, and a shelf of stand-in Pis built from them.
import { join } from 'node:path';

/** The Pi console simulator, run as a process on the board end of a serial line (see pi-console.ts). */
export const PI_CONSOLE_SCRIPT = join(__dirname, 'pi-console', 'pi-console.js');

export { runWithFakeGpio, type FakeGpioRun } from './gpio/gpio-namespace';
export { fakeGpioBarrier, type FakeGpioChip, type FakeGpioEvent } from './gpio/fake-gpio-sysfs';
export { buildShelf, destroyShelf, PI4_CHIPS, SHELF_LAB, type Shelf, type ShelfRelay } from './shelf/pi-shelf';
export { RelayWiring, type RelaySwitch } from './shelf/relay-wiring';
export { SSHD_BROKEN_FLAG, STAND_IN_CONSOLE_LOGIN } from './shelf/pi-boot';
