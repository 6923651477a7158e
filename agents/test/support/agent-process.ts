// Runs the compiled agent (dist/src/main.js) in a namespace as the orchestrator
// would, and waits for its ready line.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const AGENT_MAIN = join(__dirname, '..', '..', 'src', 'main.js');

export interface AgentRun {
  child: ChildProcess;
  /** Everything the agent printed on stdout so far. */
  output(): string;
  /** Resolves with the exit code once the agent has exited. */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; removes the config file. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Starts the agent in namespace `ns`. With `processName`, the process shows under that name (bash's
 * exec -a), so a test's agents are told apart from anyone else's on the host.
 */
export function spawnAgent(ns: string, config: unknown, processName?: string): AgentRun {
  const dir = mkdtempSync(join(tmpdir(), processName ? `${processName}-` : 'srt-dl-agent-'));
  const configPath = join(dir, 'board.json');
  writeFileSync(configPath, JSON.stringify(config));
  const argv = [process.execPath, AGENT_MAIN, '--config', configPath];
  const named = processName ? ['bash', '-c', 'exec -a "$0" "$@"', processName, ...argv] : argv;
  // The agent's temporary files go in the folder removed when it exits, even when a test kills it outright.
  const child = spawn('ip', ['netns', 'exec', ns, ...named], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: dir },
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => rmSync(dir, { recursive: true, force: true }));
  return {
    child,
    output: () => out,
    exited,
    async stop(graceMs = 3000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Resolves once a stdout line contains `marker`; rejects if the agent exits first or `timeoutMs` passes. */
export function waitForOutput(run: AgentRun, marker: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (run.output().includes(marker)) {
        clearInterval(poll);
        resolve();
      } else if (run.child.exitCode !== null || Date.now() - started > timeoutMs) {
        clearInterval(poll);
        reject(new Error(`agent did not print '${marker}'; output:\n${run.output()}`));
      }
    }, 20);
  });
}
