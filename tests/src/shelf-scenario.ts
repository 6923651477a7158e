// Runs inside the fake GPIO mount namespace (the stand-ins' runWithFakeGpio): the
// relay wiring powers the stand-in Pis as the orchestrator switches relays, and each step is a real
// `synrace` command or a change to a stand-in. Prints one JSON document with every step's outcome.

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Lab, Progress } from '@synrace/orchestrator';
import { RelayWiring, type RelaySwitch, type ShelfRelay } from '@synrace/stand-ins';
import { runCli, startCli, waitForStderr, type CliRun } from './cli';

/** A CLI command, one interrupted with SIGINT once its stderr matches `after`, or a change to a stand-in. */
export type ScenarioStep = { cli: string[] } | { interrupt: string[]; after: string } | { touch: string } | { remove: string };

/** `onInterrupt`: the command that removes what the steps made, run (relays still wired) when the scenario gets SIGINT. */
export interface ScenarioInput { shelfLab: string; relays: ShelfRelay[]; steps: ScenarioStep[]; onInterrupt: string[] }

export interface StepOutcome { step: ScenarioStep; code: number | null; stdout: string; stderr: string; startedAt: number; endedAt: number }

export interface ScenarioOutput { outcomes: StepOutcome[]; switches: RelaySwitch[]; interrupted: boolean }

/** The exit code of a scenario stopped by SIGINT or SIGTERM, as a shell's. */
const INTERRUPTED_EXIT = 130;

async function main(input: ScenarioInput): Promise<ScenarioOutput> {
  const config = JSON.parse(readFileSync(process.env.SYNRACE_FAKE_GPIO_CONFIG ?? '', 'utf8')) as { eventsFile: string };
  const wiring = new RelayWiring(config.eventsFile, Lab.attach(input.shelfLab, new Progress(true)), input.relays);
  const outcomes: StepOutcome[] = [];
  // Ctrl-C reaches the running command as Ctrl-C (it removes what it was making), and no further step starts.
  let current: CliRun | undefined;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    current?.child.kill('SIGINT');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const cli = async (args: string[], whileRunning?: (run: CliRun) => Promise<void>) => {
    current = startCli(args);
    try {
      await whileRunning?.(current);
      const { code } = await current.exit;
      return { code, stdout: current.stdout(), stderr: current.stderr() };
    } finally {
      current = undefined;
    }
  };
  try {
    for (const step of input.steps) {
      if (interrupted) break;
      const started = Date.now();
      if ('cli' in step) outcomes.push({ step, ...(await cli(step.cli)), startedAt: started, endedAt: Date.now() });
      else if ('interrupt' in step) {
        const ran = await cli(step.interrupt, async (run) => {
          await Promise.race([waitForStderr(run, new RegExp(step.after), 120_000), run.exit]);
          run.child.kill('SIGINT');
        });
        outcomes.push({ step, ...ran, startedAt: started, endedAt: Date.now() });
      } else {
        if ('touch' in step) writeFileSync(step.touch, '');
        else rmSync(step.remove, { force: true });
        outcomes.push({ step, code: 0, stdout: '', stderr: '', startedAt: started, endedAt: Date.now() });
      }
    }
    if (interrupted) await runCli(input.onInterrupt);
  } finally {
    await wiring.stop();
  }
  return { outcomes, switches: wiring.switches, interrupted };
}

main(JSON.parse(process.argv[2]) as ScenarioInput).then(
  (output) => {
    process.stdout.write(JSON.stringify(output));
    if (output.interrupted) process.exitCode = INTERRUPTED_EXIT;
  },
  (err: Error) => {
    process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  },
);
