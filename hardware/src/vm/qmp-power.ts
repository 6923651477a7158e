// PowerDriver for a QEMU board: the relay of a Pi on the shelf, in QEMU terms. off = QMP `quit`, an instant
// stop with no guest shutdown (what a relay cut does to a Pi); on = a cold boot through the board's
// firmware, which reads the boot partition afresh.
import { setTimeout as delay } from 'node:timers/promises';
import type { PowerDriver } from '../drivers/power/power-driver';
import type { QemuMachine } from './qemu-machine';

export class QmpPowerDriver implements PowerDriver {
  constructor(readonly machine: QemuMachine) {}

  async on(): Promise<void> {
    await this.machine.powerOn();
  }

  async off(): Promise<void> {
    await this.machine.powerOff();
  }

  isOn(): Promise<boolean> {
    return this.machine.isPoweredOn();
  }

  async cycle(settleMs: number, signal?: AbortSignal): Promise<void> {
    await this.off();
    await delay(settleMs, undefined, { signal });
    await this.on();
  }
}
