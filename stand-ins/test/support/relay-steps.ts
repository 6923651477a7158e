// Drives RelayPowerDriver through steps given as JSON, inside the fake GPIO
// namespace (gpio-namespace.ts), and prints one result per step as JSON.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RelayPowerDriver, type PowerRelayResource } from '@synrace/hardware';
import { fakeGpioBarrier } from '../../src/gpio/fake-gpio-sysfs';

export type RelayStep =
  | 'on'
  | 'off'
  | 'isOn'
  | 'close'
  /** Drops the driver without closing it, as a restarted orchestrator would, and starts a new one. */
  | 'restart'
  | { cycle: number }
  /** Writes a sysfs file directly, as another tool would: [path under /sys/class/gpio, content]. */
  | { sysfs: [string, string] };

export interface RelayStepsInput {
  board: string;
  relay: PowerRelayResource;
  steps: RelayStep[];
}

export type RelayStepResult = { step: RelayStep; value?: boolean; error?: string };

async function runStep(driver: RelayPowerDriver, step: RelayStep): Promise<boolean | void> {
  if (step === 'on') return driver.on();
  if (step === 'off') return driver.off();
  if (step === 'isOn') return driver.isOn();
  if (step === 'close') return driver.close();
  if (step === 'restart') return;
  if ('cycle' in step) return driver.cycle(step.cycle);
  writeFileSync(join('/sys/class/gpio', step.sysfs[0]), step.sysfs[1]);
}

async function main(input: RelayStepsInput): Promise<RelayStepResult[]> {
  const newDriver = () => new RelayPowerDriver(input.relay, { board: input.board });
  let driver = newDriver();
  const results: RelayStepResult[] = [];
  for (const step of input.steps) {
    try {
      const value = await runStep(driver, step);
      results.push(typeof value === 'boolean' ? { step, value } : { step });
    } catch (err) {
      results.push({ step, error: (err as Error).message });
    }
    if (step === 'restart') driver = newDriver();
    await fakeGpioBarrier();
  }
  return results;
}

if (require.main === module) {
  main(JSON.parse(process.argv[2]) as RelayStepsInput).then(
    (results) => process.stdout.write(JSON.stringify(results)),
    (err: Error) => {
      process.stderr.write(`${err.stack}\n`);
      process.exitCode = 1;
    },
  );
}
