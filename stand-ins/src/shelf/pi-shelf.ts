import { writeFileSync } from 'node:fs';
import { Lab, Progress } from '@synrace/orchestrator';
import { PI_STAND_IN, STAND_IN_CONSOLE_LOGIN } from './pi-boot';

/** The shelf is a lab of its own, beside the hardware lab that drives it. */
export const SHELF_LAB = 'pi-shelf';
/** A Pi 4 controller's header chip as its kernel numbers it: sysfs gpio = 512 + BCM pin. */
export const PI4_CHIPS = [{ base: 512, ngpio: 58, label: 'pinctrl-bcm2711' }];
/** The relay board's channels, wired to these BCM pins in the order the boards are given them. */
const RELAY_PINS = [4, 5, 6, 12, 13, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27];

export interface ShelfRelay { board: string; gpio: number; activeLow: boolean }

export interface Shelf {
  lab: Lab;
  inventoryFile: string;
  relays: ShelfRelay[];
}

/**
 * A shelf of stand-in Pis for the hardware backend: one namespace per board with its links and sshd
 * (pinned host key), a serial line (pty pair) with a Pi console simulator on the board's end, power
 * by a relay on a fake GPIO line, and between the sites a WAN emulator with the profile's delays
 * (the userspace delay line, since this kernel has no netem). The boards stay off until a relay closes.
 */
export async function buildShelf(topology = 'world', profile = 'world'): Promise<Shelf> {
  const lab = await Lab.build({ name: SHELF_LAB, topology, profile, delay: 'userspace', boardClass: PI_STAND_IN, replace: true }, new Progress(true));
  try {
    const state = lab.state();
    if (state.boards.length > RELAY_PINS.length) throw new Error(`the stand-in relay board has ${RELAY_PINS.length} channels, topology ${topology} has ${state.boards.length} boards`);
    const inventory = {
      name: 'stand-in-shelf',
      topology: lab.inputs().topology.name,
      defaults: { baudRate: 115200, ssh: { user: 'root', port: 22, key: lab.runDir.path('lab_key') }, console: STAND_IN_CONSOLE_LOGIN },
      boards: state.boards.map((b, i) => ({
        name: `pi-${String(i + 1).padStart(2, '0')}`,
        plays: b.name,
        serial: { path: lab.runDir.path('boards', b.name, 'serial') },
        relay: { bcmPin: RELAY_PINS[i], activeLow: true },
        ssh: { host: b.mgmtAddress, hostKey: b.hostKey },
      })),
    };
    // JSON is YAML: the inventory loader reads it as any inventory.
    const inventoryFile = lab.runDir.path('inventory.yaml');
    writeFileSync(inventoryFile, JSON.stringify(inventory, null, 2) + '\n');
    const relays = inventory.boards.map((b) => ({ board: b.plays, gpio: PI4_CHIPS[0].base + b.relay.bcmPin, activeLow: true }));
    return { lab, inventoryFile, relays };
  } catch (err) {
    await lab.down();
    throw err;
  }
}

/** Everything the shelf made: boards (and whatever runs on them), links, namespaces, its run folder. */
export async function destroyShelf(shelf: Shelf): Promise<void> {
  await shelf.lab.down();
}
