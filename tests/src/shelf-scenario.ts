// Runs inside the fake GPIO mount namespace (the stand-ins' runWithFakeGpio): the
// relay wiring powers the stand-in Pis as the orchestrator switches relays, and each step is a real
// `synrace` command or a change to a stand-in. Prints one JSON document with every step's outcome.

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Lab, Progress } from '@synrace/orchestrator';
import { RelayWiring, type RelaySwitch, type ShelfRelay } from '@synrace/stand-ins';
import { runCli, startCli, waitForStderr } from './cli';

/** A CLI command, one interrupted with SIGINT once its stderr matches `after`, or a change to a stand-in. */
export type ScenarioStep = { cli: string[] } | { interrupt: string[]; after: string } | { touch: string } | { remove: string };

export interface ScenarioInput { shelfLab: string; relays: ShelfRelay[]; steps: ScenarioStep[] }

export interface StepOutcome { step: ScenarioStep; code: number | null; stdout: string; stderr: string; startedAt: number; endedAt: number }

export interface ScenarioOutput { outcomes: StepOutcome[]; switches: RelaySwitch[] }

async function main(input: ScenarioInput): Promise<ScenarioOutput> {
  const config = JSON.parse(readFileSync(process.env.SYNRACE_FAKE_GPIO_CONFIG ?? '', 'utf8')) as { eventsFile: string };
  const wiring = new RelayWiring(config.eventsFile, Lab.attach(input.shelfLab, new Progress(true)), input.relays);
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
