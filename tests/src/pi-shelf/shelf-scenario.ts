// Runs inside the fake GPIO mount namespace (the hardware package's gpio-namespace support): the
// relay wiring powers the stand-in Pis as the orchestrator switches relays, and each step is a real
// `synrace` command or a change to a stand-in. Prints one JSON document with every step's outcome.

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { RunDir, type LabState } from '@synrace/orchestrator';
import { runCli, startCli, waitForStderr } from '../cli';
import type { ShelfRelay } from './pi-shelf';
import { RelayWiring, type RelaySwitch } from './relay-watcher';

/** A CLI command, one interrupted with SIGINT once its stderr matches `after`, or a change to a stand-in. */
export type ScenarioStep = { cli: string[] } | { interrupt: string[]; after: string } | { touch: string } | { remove: string };

export interface ScenarioInput { shelfRoot: string; relays: ShelfRelay[]; steps: ScenarioStep[] }

export interface StepOutcome { step: ScenarioStep; code: number | null; stdout: string; stderr: string; startedAt: number; endedAt: number }

export interface ScenarioOutput { outcomes: StepOutcome[]; switches: RelaySwitch[] }

async function main(input: ScenarioInput): Promise<ScenarioOutput> {
  const config = JSON.parse(readFileSync(process.env.SYNRACE_FAKE_GPIO_CONFIG ?? '', 'utf8')) as { eventsFile: string };
  const runDir = new RunDir(input.shelfRoot);
  const wiring = new RelayWiring(config.eventsFile, runDir, runDir.readState<LabState>(), input.relays);
  const outcomes: StepOutcome[] = [];
  try {
    for (const step of input.steps) {
      const started = Date.now();
      if ('cli' in step) outcomes.push({ step, ...(await runCli(step.cli)), startedAt: started, endedAt: Date.now() });
      else if ('interrupt' in step) {
        const run = startCli(step.interrupt);
        await waitForStderr(run, new RegExp(step.after), 120_000);
        run.child.kill('SIGINT');
        const { code } = await run.exit;
        outcomes.push({ step, code, stdout: run.stdout(), stderr: run.stderr(), startedAt: started, endedAt: Date.now() });
      } else {
        if ('touch' in step) writeFileSync(step.touch, '');
        else rmSync(step.remove, { force: true });
        outcomes.push({ step, code: 0, stdout: '', stderr: '', startedAt: started, endedAt: Date.now() });
      }
    }
  } finally {
    await wiring.stop();
  }
  return { outcomes, switches: wiring.switches };
}

main(JSON.parse(process.argv[2]) as ScenarioInput).then(
  (output) => process.stdout.write(JSON.stringify(output)),
  (err: Error) => {
    process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  },
);
