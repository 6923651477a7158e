// Host TAP devices for QEMU boards' NICs. They are made persistent (ip tuntap) by the caller's side, not by
// QEMU, so a board's power cycle (QEMU exits, starts again) leaves the TAP and its bridge port in place, as
// a switch port stays when a Pi loses power.
import { run } from '../host-command';

const inNetns = (netns?: string): string[] => (netns === undefined ? ['ip'] : ['ip', '-n', netns]);

/** Whether the device exists, on the host or in the namespace. */
export async function tapExists(name: string, netns?: string): Promise<boolean> {
  return (await run([...inNetns(netns), 'link', 'show', 'dev', name], { allowFail: true })).code === 0;
}

/**
 * Creates the TAP (replacing none: an existing device of that name is an error), optionally on a bridge, and
 * sets it up; in `netns` when given, where the board's QEMU must then run.
 */
export async function createTap(name: string, bridge?: string, netns?: string): Promise<void> {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new Error(`TAP name ${JSON.stringify(name)}: 1 to 15 letters, digits, '_', '.', '-'`);
  if (await tapExists(name, netns)) throw new Error(`${name} exists already; not taking over a device this caller did not make`);
  await run([...inNetns(netns), 'tuntap', 'add', 'dev', name, 'mode', 'tap']);
  if (bridge !== undefined) await run([...inNetns(netns), 'link', 'set', name, 'master', bridge]);
  await run([...inNetns(netns), 'link', 'set', name, 'up']);
}

/** Removes the TAP; nothing to do when it is gone. */
export async function removeTap(name: string, netns?: string): Promise<void> {
  if (await tapExists(name, netns)) await run([...inNetns(netns), 'link', 'del', name]);
}
