import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Runs a command; on failure throws an Error whose message carries the command's stderr. */
export async function run(command: string, args: string[]): Promise<string> {
  try {
    return (await execFileAsync(command, args)).stdout;
  } catch (e) {
    const { stderr, message } = e as { stderr?: string; message: string };
    throw new Error(`${[command, ...args].join(' ')}: ${stderr?.trim() || message}`);
  }
}

export function runInNamespace(ns: string, command: string, args: string[]): Promise<string> {
  return run('ip', ['netns', 'exec', ns, command, ...args]);
}

/** A fresh namespace named `<prefix>-<random hex>`, so parallel runs never share one. */
export async function createScratchNamespace(prefix: string): Promise<string> {
  const ns = `${prefix}-${randomBytes(4).toString('hex')}`;
  await run('ip', ['netns', 'add', ns]);
  return ns;
}

export async function deleteNamespace(ns: string): Promise<void> {
  await run('ip', ['netns', 'del', ns]);
}

export async function withScratchNamespace<T>(prefix: string, body: (ns: string) => Promise<T>): Promise<T> {
  const ns = await createScratchNamespace(prefix);
  try {
    return await body(ns);
  } finally {
    await deleteNamespace(ns);
  }
}
