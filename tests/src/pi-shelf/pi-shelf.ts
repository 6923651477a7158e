import { writeFileSync } from 'node:fs';
import { loadTopology } from '@synrace/netem-profiles';
import { Progress, resolveProfile, resolveTopology, RunDir, virtualLabDown, virtualLabUp, type LabState } from '@synrace/orchestrator';
import { renderStandInBoot, STAND_IN_CONSOLE_LOGIN } from './stand-in-boot';

/** The shelf is a lab of its own, apart from the hardware lab (/run/synrace) that drives it. */
export const SHELF_ROOT = '/run/synrace-shelf';
/** A Pi 4 controller's header chip as its kernel numbers it: sysfs gpio = 512 + BCM pin. */
export const PI4_CHIPS = [{ base: 512, ngpio: 58, label: 'pinctrl-bcm2711' }];
/** The relay board's channels, wired to these BCM pins in the order the boards are given them. */
const RELAY_PINS = [4, 5, 6, 12, 13, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27];

export interface ShelfRelay { board: string; gpio: number; activeLow: boolean }

export interface Shelf {
  runDir: RunDir;
  state: LabState;
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
  const runDir = new RunDir(SHELF_ROOT);
  if (runDir.exists()) await destroyShelf(runDir);
  try {
    const state = await virtualLabUp(
      runDir,
      { topologyFile: resolveTopology(topology), profileFile: resolveProfile(profile), delayMode: 'userspace-delay-line', delayProbe: "the shelf's WAN emulator", bootTimeoutMs: 20_000, shelf: { renderBoot: renderStandInBoot } },
      new Progress(true),
    );
    if (state.boards.length > RELAY_PINS.length) throw new Error(`the stand-in relay board has ${RELAY_PINS.length} channels, topology ${topology} has ${state.boards.length} boards`);
    const inventory = {
      name: 'stand-in-shelf',
      topology: loadTopology(state.topologyFile).name,
      defaults: { baudRate: 115200, ssh: { user: 'root', port: 22, key: runDir.path('lab_key') }, console: STAND_IN_CONSOLE_LOGIN },
      boards: state.boards.map((b, i) => ({
        name: `pi-${String(i + 1).padStart(2, '0')}`,
        plays: b.name,
        serial: { path: runDir.path('boards', b.name, 'serial') },
        relay: { bcmPin: RELAY_PINS[i], activeLow: true },
        ssh: { host: b.mgmtAddress, hostKey: b.hostKey },
      })),
    };
    // JSON is YAML: the inventory loader reads it as any inventory.
    const inventoryFile = runDir.path('inventory.yaml');
    writeFileSync(inventoryFile, JSON.stringify(inventory, null, 2) + '\n');
    const relays = inventory.boards.map((b) => ({ board: b.plays, gpio: PI4_CHIPS[0].base + b.relay.bcmPin, activeLow: true }));
    return { runDir, state, inventoryFile, relays };
  } catch (err) {
    await destroyShelf(runDir);
    throw err;
  }
}

/** Everything the shelf made: boards (and whatever runs on them), links, namespaces, its run folder. */
export async function destroyShelf(runDir: RunDir): Promise<void> {
  await virtualLabDown(runDir, new Progress(true));
  runDir.remove();
}
