import { execFile, spawn } from 'node:child_process';

export interface CommandResult { stdout: string; stderr: string; code: number }

export class CommandError extends Error {
  constructor(readonly argv: string[], readonly code: number | string | null, readonly stderr: string) {
    super(`command failed (${code}): ${argv.join(' ')}${stderr.trim() ? `\n  ${stderr.trim().split('\n').join('\n  ')}` : ''}`);
    this.name = 'CommandError';
  }
}

export interface RunOptions { input?: string; allowFail?: boolean; timeoutMs?: number }

/** Runs a host command to completion; failures carry the argv and stderr so a user sees which step broke. */
export function run(argv: string[], opts: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0], argv.slice(1), { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? ((err as NodeJS.ErrnoException & { code?: number | string }).code ?? 1) : 0;
      if (err && !opts.allowFail) reject(new CommandError(argv, code, stderr || err.message));
      else resolve({ stdout, stderr, code: typeof code === 'number' ? code : 1 });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Feeds many iproute2 commands to one `ip -batch` process: a lab needs hundreds and each fork costs milliseconds. */
export async function ipBatch(lines: string[], netns?: string): Promise<void> {
  if (lines.length === 0) return;
  const argv = netns ? ['ip', '-n', netns, '-batch', '-'] : ['ip', '-batch', '-'];
  await run(argv, { input: lines.join('\n') + '\n' });
}

/** Starts a long-lived process that outlives this CLI invocation; its output goes to logFile. */
export function spawnDetached(argv: string[], logFd: number): number {
  const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', logFd, logFd] });
  child.unref();
  if (child.pid === undefined) throw new CommandError(argv, 'spawn', 'process did not start');
  return child.pid;
}
