import { setTimeout as delay } from 'node:timers/promises';
import type { PowerDriver } from './power-driver';

/** Off, wait settleMs so the board really loses power, on; an abort during the wait leaves the board off. */
export async function powerCycle(driver: Pick<PowerDriver, 'on' | 'off'>, settleMs: number, signal?: AbortSignal): Promise<void> {
  await driver.off();
  await delay(settleMs, undefined, { signal });
  await driver.on();
}
