// Host TAP devices for QEMU boards' NICs. They are made persistent (ip tuntap) by the caller's side, not by
// QEMU, so a board's power cycle (QEMU exits, starts again) leaves the TAP and its bridge port in place, as
// a switch port stays when a Pi loses power.
import { existsSync } from 'node:fs';
import { run } from '../host-command';

/** Creates the TAP (replacing none: an existing device of that name is an error), optionally on a bridge, and sets it up. */
export async function createTap(name: string, bridge?: string): Promise<void> {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new Error(`TAP name ${JSON.stringify(name)}: 1 to 15 letters, digits, '_', '.', '-'`);
  if (existsSync(`/sys/class/net/${name}`)) throw new Error(`${name} exists already; not taking over a device this caller did not make`);
  await run(['ip', 'tuntap', 'add', 'dev', name, 'mode', 'tap']);
  if (bridge !== undefined) await run(['ip', 'link', 'set', name, 'master', bridge]);
  await run(['ip', 'link', 'set', name, 'up']);
}

/** Removes the TAP; nothing to do when it is gone. */
export async function removeTap(name: string): Promise<void> {
  if (existsSync(`/sys/class/net/${name}`)) await run(['ip', 'link', 'del', name]);
}
