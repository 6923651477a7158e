// A QEMU board's serial adapter: what a USB serial adapter is to a Pi. A pty whose path (a stable link)
// the console server owns with serialport, joined by socat to a unix socket that the board's UART (a QEMU
// chardev) connects to at every power-on. socat holds the pty for as long as the adapter is plugged in, so
// the path and device stay the same across power cycles, and each QEMU run gets its own forked relay.
// The link is ours, not socat's `link=`: socat's forked relays run its exit handler too, and the first
// relay to end (the first power-off) would remove a link socat made.
import { existsSync, openSync, closeSync } from 'node:fs';
import { readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { spawnDetached } from '../host-command';
import { cmdlineOf, killIfMatches } from '../virtual/netns';
import { waitForPaths } from '../virtual/serial-cable';

export interface SerialAdapterPaths {
  /** The pty link the console server opens. */
  serialPath: string;
  /** Where QEMU's chardev connects. */
  socket: string;
  pidFile: string;
  logFile: string;
}

async function adapterPid(paths: SerialAdapterPaths): Promise<number | undefined> {
  const pid = Number((await readFile(paths.pidFile, 'utf8').catch(() => '')).trim());
  return pid > 0 && cmdlineOf(pid)?.includes(paths.socket) ? pid : undefined;
}

/** Starts the adapter unless it runs already; resolves when the pty link and the socket exist. */
export async function plugSerialAdapter(paths: SerialAdapterPaths): Promise<void> {
  if ((await adapterPid(paths)) !== undefined && existsSync(paths.serialPath)) return;
  await rm(paths.socket, { force: true });
  await rm(paths.serialPath, { force: true });
  const logStart = (await readFile(paths.logFile).catch(() => Buffer.alloc(0))).length;
  const log = openSync(paths.logFile, 'a');
  let pid: number;
  try {
    // -d -d: socat logs "PTY is /dev/pts/N", which is where the link points.
    pid = spawnDetached(['socat', '-d', '-d', 'PTY,raw,echo=0', `UNIX-LISTEN:${paths.socket},fork`], log);
    await writeFile(paths.pidFile, `${pid}\n`);
  } finally {
    closeSync(log);
  }
  for (let waited = 0; ; waited += 20) {
    const text = (await readFile(paths.logFile)).subarray(logStart).toString();
    const pty = /PTY is (\/dev\/pts\/\d+)/.exec(text);
    if (pty) {
      await symlink(pty[1], paths.serialPath);
      break;
    }
    if (waited > 5000 || cmdlineOf(pid) === undefined) throw new Error(`the serial adapter (socat) did not open a pty; see ${paths.logFile}`);
    await delay(20);
  }
  await waitForPaths([paths.socket], 5000);
}

export async function unplugSerialAdapter(paths: SerialAdapterPaths): Promise<void> {
  const pid = await adapterPid(paths);
  if (pid !== undefined) {
    killIfMatches(pid, paths.socket, 'SIGTERM');
    for (let i = 0; i < 50 && cmdlineOf(pid) !== undefined; i++) await new Promise((r) => setTimeout(r, 20));
  }
  await rm(paths.pidFile, { force: true });
  await rm(paths.socket, { force: true });
  await rm(paths.serialPath, { force: true });
}
