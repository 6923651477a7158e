// Pinning a freshly flashed board's SSH host key from its serial console, a path the lab owns, rather than
// trusting whatever answers first on the network: the image prints the keys between cloud-init's markers
// at every boot, before any login prompt (see pi-os-helpers.ts).
import { open } from 'node:fs/promises';
import { waitForConsole } from '../drivers/console-client';
import { consoleText } from '../drivers/console-log';
import { HOST_KEYS_END, hostKeysFromConsole } from '../image/pi-os-helpers';

async function logFrom(logFile: string, since: number): Promise<string[]> {
  const handle = await open(logFile, 'r');
  try {
    const { size } = await handle.stat();
    const bytes = Buffer.alloc(Math.max(0, size - since));
    await handle.read(bytes, 0, bytes.length, since);
    return bytes.toString('utf8').split('\n');
  } finally {
    await handle.close();
  }
}

/**
 * The ed25519 host key line ("ssh-ed25519 AAAA... root@host") the board printed on its console after byte
 * `since` of its console log, waiting up to timeoutMs for the block to end.
 */
export async function waitForConsoleHostKey(logFile: string, since: number, timeoutMs: number): Promise<string> {
  await waitForConsole(logFile, new RegExp(HOST_KEYS_END), timeoutMs, { since });
  const lines = (await logFrom(logFile, since)).map(consoleText).filter((t): t is string => t !== undefined);
  const key = hostKeysFromConsole(lines).find((k) => k.startsWith('ssh-ed25519 '));
  if (key === undefined) throw new Error(`${logFile}: the host key block after byte ${since} holds no ssh-ed25519 key`);
  return key;
}
