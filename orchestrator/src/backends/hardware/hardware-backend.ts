import { closeSync, copyFileSync, mkdirSync, openSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { BoardStuckError, RelayPowerDriver, type BringUpTimeouts, type PowerDriver } from '@synrace/hardware';
import type { Inventory, Topology } from '@synrace/netem-profiles';
import type { CreateRequest, DownProblem, LabBackend } from '../lab-backend';
import { connectBoard } from '../../labs/board-access';
import { consoleSocketPath, startConsoleServer } from '../../labs/console-server-process';
import type { BoardRecord, LabState } from '../../labs/lab-state';
import type { RunDir } from '../../labs/run-dir';
import type { Progress } from '../../progress';
import { AGENT_UNIT, WEB_UNIT } from '../../provision/systemd-units';
import type { BoardLayout } from '../../provision/provision-lab';
import { tcTeardownScript, wanBoards } from '../../delays/tc-trees';
import type { LabInputs, PlayingBoard } from '../../inputs/lab-inputs';
import { BOOT_MARKER, diagnoseOverConsole } from '../getty-console';
import { expandHome } from './doctor';

/** Long enough for a Pi's supply capacitors to drain, so that "on" is a cold boot. */
export const POWER_SETTLE_MS = 1500;
/** A Pi 4 from cold: firmware, kernel and first-boot jobs take a minute or two; Node provisioning over USB Wi-Fi is slow. */
export const HARDWARE_TIMEOUTS: BringUpTimeouts = { powered: 10_000, booted: 180_000, reachable: 90_000, provisioned: 180_000 };

export function relayOf(board: BoardRecord): RelayPowerDriver {
  if (!board.physical) throw new Error(`board ${board.name} is not a physical board`);
  return new RelayPowerDriver(board.physical.relay, { board: board.name });
}

/**
 * The relay as `synrace power` and the suites switch it: the relay opens at once, but the Pi runs on until its
 * supply drains, so off resolves only then. Whatever comes next (a failover test's connection, say) finds the board off.
 */
function offOnceDrained(relay: RelayPowerDriver): PowerDriver {
  return {
    on: () => relay.on(),
    off: async () => {
      await relay.off();
      await delay(POWER_SETTLE_MS);
    },
    isOn: () => relay.isOn(),
    cycle: (settleMs, signal) => relay.cycle(settleMs, signal),
  };
}

/**
 * Physical boards of an inventory: relays power them, one console server logs every USB serial adapter,
 * and each board's delays are kernel netem on its own WAN NIC, or come from the WAN itself (external).
 */
export class HardwareBackend implements LabBackend {
  readonly kind = 'hardware' as const;
  readonly powerSettleMs = POWER_SETTLE_MS;
  readonly bootMarker = BOOT_MARKER;

  readonly timeouts = HARDWARE_TIMEOUTS;
  private readonly inventory: Inventory;
  private readonly shelf: Map<string, PlayingBoard>;

  constructor(private readonly runDir: RunDir, private readonly inputs: LabInputs) {
    if (!inputs.inventory || !inputs.shelf) throw new Error('the hardware backend needs --inventory <file>: the boards, their relays, serial adapters and SSH keys');
    this.inventory = inputs.inventory;
    this.shelf = inputs.shelf;
  }

  async create(request: CreateRequest): Promise<LabState> {
    const { runDir, inputs, progress } = request;
    const inventory = this.inventory;
    const shelf = this.shelf;
    runDir.create();
    mkdirSync(runDir.path('logs'), { recursive: true });
    copyFileSync(inputs.topologyFile, runDir.path('topology.yaml'));
    copyFileSync(inputs.profileFile, runDir.path('profile.yaml'));
    copyFileSync(inputs.inventoryFile!, runDir.path('inventory.yaml'));
    const state: LabState = {
      version: 2,
      name: request.name,
      backend: 'hardware',
      phase: 'creating',
      startedAt: new Date().toISOString(),
      topologyFile: runDir.path('topology.yaml'),
      profileFile: runDir.path('profile.yaml'),
      inventoryFile: runDir.path('inventory.yaml'),
      delay: request.delay === 'external'
        ? { mode: 'external', probe: 'the WAN between the boards has the delays already (--delay external); checked by measuring the RTT matrix' }
        : { mode: 'kernel-netem', probe: 'each WAN board is checked for sch_netem before its tc tree is applied' },
      boards: inputs.topology.boards.map((b) => {
        const { board: p, mgmtAddress } = shelf.get(b.name)!;
        return {
          name: b.name,
          site: b.site,
          roles: b.roles,
          mgmtAddress,
          login: { port: p.ssh.port, user: p.ssh.user, privateKeyPath: expandHome(p.ssh.key) },
          hostKey: p.ssh.hostKey,
          power: 'off',
          physical: { label: p.name, serialPath: p.serial.path, relay: p.relay, interfaces: p.interfaces },
        };
      }),
    };
    runDir.writeState(state);
    progress.step(`lab ${request.name} on shelf ${inventory.name}: ${state.boards.length} boards, profile ${inputs.profile.name}, delay by ${state.delay.mode}`);
    state.boards.forEach((b) => mkdirSync(runDir.boardDir(b.name), { recursive: true }));
    const infraLog = openSync(runDir.path('logs', 'infrastructure.log'), 'a');
    try {
      const lines = state.boards.map((b) => ({ board: b.name, path: b.physical!.serialPath, baudRate: inventory.boards.find((i) => i.plays === b.name)!.serial.baudRate }));
      await startConsoleServer(runDir, lines, infraLog, (pid) => runDir.manifest().recordProcess('console server', pid));
    } finally {
      closeSync(infraLog);
    }
    progress.step('serial consoles logged');
    return state;
  }

  power(board: BoardRecord): PowerDriver {
    return offOnceDrained(relayOf(board));
  }

  layout(): BoardLayout {
    return { fsRoot: '/', init: { kind: 'systemd' } };
  }

  /** console=serial0 on a Pi: the kernel's console is the serial line. */
  consoleDevice(): string {
    return '/dev/console';
  }

  /**
   * Hands the shelf back as it was found: units disabled and stopped, tc trees removed, every board
   * powered off. A board that cannot be reached is named, not waited for.
   */
  async release(state: LabState, progress: Progress): Promise<DownProblem[]> {
    const { topology } = this.inputs;
    const problems = (await Promise.all(state.boards.map((b) => releaseBoard(state, topology, b)))).flat();
    for (const p of problems) progress.step(`${p.board}: ${p.problem}`);
    progress.step(`${state.boards.length} boards: ${problems.length ? `${problems.length} problem(s) above` : 'units and tc trees removed, relays open'}`);
    return problems;
  }

  /** Why a board that booted is not reachable over SSH, from its console, when the inventory gives a console login. */
  async explainStuck(err: unknown): Promise<string> {
    const message = (err as Error).message;
    if (!(err instanceof BoardStuckError) || err.state !== 'booted') return message;
    const login = this.inventory.boards.find((b) => b.plays === err.board)?.console;
    if (!login) return `${message}\n    (give the board a console login in the inventory and synrace logs in over the serial console to say why)`;
    const diagnosis = await diagnoseOverConsole(consoleSocketPath(this.runDir, err.board), err.board, login).catch((e: Error) => `console login failed too: ${e.message}`);
    return `${message}\n    seen over the serial console:\n      ${diagnosis.split('\n').join('\n      ')}`;
  }
}

async function releaseBoard(state: LabState, topology: Topology, board: BoardRecord): Promise<DownProblem[]> {
  const problems: DownProblem[] = [];
  const undo = [`systemctl disable --now ${AGENT_UNIT} ${WEB_UNIT} 2>/dev/null; true`];
  if (state.delay.mode === 'kernel-netem' && wanBoards(topology).includes(board.name)) undo.push(tcTeardownScript(topology, board.name));
  if (board.power === 'on') {
    try {
      const shell = await connectBoard(state, board.name, 5000);
      try {
        await shell.exec(undo.join('\n'), { timeoutMs: 30_000 });
      } finally {
        shell.close();
      }
    } catch (err) {
      problems.push({ board: board.name, problem: `services and tc tree not removed: ${(err as Error).message}` });
    }
  }
  try {
    await relayOf(board).off();
  } catch (err) {
    problems.push({ board: board.name, problem: `not powered off: ${(err as Error).message}` });
  }
  return problems;
}
