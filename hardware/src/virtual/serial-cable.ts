import { existsSync } from 'node:fs';
import { spawnDetached } from '../host-command';

/**
 * A virtual board's serial line: a null-modem pair of ptys. The host end is what a USB serial adapter
 * would be (raw, read by the console server with serialport); the board end is the board's ttyS0, left in
 * a cooked line discipline like a real getty's, so its shell echoes and its output ends lines with CR LF.
 */
export function startSerialCable(hostEnd: string, boardEnd: string, logFd: number): number {
  return spawnDetached(['socat', '-d', `pty,raw,echo=0,link=${hostEnd}`, `pty,link=${boardEnd}`], logFd);
}

export async function waitForPaths(paths: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing = paths.filter((p) => !existsSync(p));
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${missing.join(', ')}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
