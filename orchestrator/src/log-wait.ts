import { existsSync, readFileSync, statSync } from 'node:fs';

export function lastLines(file: string, count: number): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(-count);
}

export function fileSize(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

/**
 * Polls a log file for a line written after byte offset `after` (logs are appended across restarts);
 * the timeout error shows the last lines, which usually say what went wrong.
 */
export async function waitForLogLine(file: string, pattern: RegExp, timeoutMs: number, what: string, after = 0): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = existsSync(file) ? readFileSync(file).subarray(after).toString('utf8') : '';
    const hit = text.split('\n').find((l) => pattern.test(l));
    if (hit) return hit;
    if (Date.now() > deadline) {
      throw new Error(`${what} did not report ${pattern} within ${timeoutMs} ms; last lines of ${file}:\n  ${lastLines(file, 10).join('\n  ') || '(empty)'}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
