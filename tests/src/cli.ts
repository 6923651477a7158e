import { spawn, type ChildProcess } from 'node:child_process';
import { SYNRACE_CLI_SCRIPT } from '@synrace/orchestrator';

export interface CliRun { child: ChildProcess; stdout: () => string; stderr: () => string; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }

/** Runs the real CLI as a user would, so exit codes, stderr and signal handling are what is tested. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = process.env): CliRun {
  const child = spawn(process.execPath, [SYNRACE_CLI_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exit };
}

export async function runCli(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = startCli(args, env);
  const { code } = await run.exit;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** Resolves once the CLI's progress on stderr matches pattern. */
export async function waitForStderr(run: CliRun, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(run.stderr())) {
    if (Date.now() > deadline) throw new Error(`CLI never printed ${pattern}; stderr so far:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
