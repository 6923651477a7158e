import { closeSync, copyFileSync, mkdirSync, openSync } from 'node:fs';
import { BoardStuckError, bringUp, bringUpSteps, killIfMatches, RelayPowerDriver, type BringUpTimeouts } from '@synrace/hardware';
import { loadInventory, loadProfile, loadTopology, type DelayProfile, type Inventory, type Topology } from '@synrace/netem-profiles';
import { connectBoard } from '../board-access';
import { consoleSocketPath, startConsoleServer } from '../console-server-process';
import type { BoardState, LabState } from '../lab-state';
import type { Progress } from '../progress';
import type { ProtocolOptions } from '../provision/agent-config';
import { provisionedBoards, provisionLabBoard, type LabProvisioning } from '../provision/provision-lab';
import { AGENT_UNIT, WEB_UNIT } from '../provision/systemd-units';
import { writeWebContent } from '../provision/web-content';
import type { RunDir } from '../run-dir';
import { applyTcTree, tcTeardownScript, wanBoards } from '../tc-trees';
import { boardNetem } from './board-netem';
import { diagnoseOverConsole } from './console-diagnosis';
import { expandHome } from './doctor';
import { boardsOnShelf, managementAddress, withBoardInterfaceNames } from './shelf-topology';

/** A Pi has booted when getty prints its login prompt on the serial console, or logs a user in by itself (agetty --autologin). */
export const BOOT_MARKER = /\blogin: *(\S+ \(automatic login[^)]*\))?$/;
/** Long enough for a Pi's supply capacitors to drain, so that "on" is a cold boot. */
export const POWER_SETTLE_MS = 1500;
/** A Pi 4 from cold: firmware, kernel and first-boot jobs take a minute or two; Node provisioning over USB Wi-Fi is slow. */
export const HARDWARE_TIMEOUTS: BringUpTimeouts = { powered: 10_000, booted: 180_000, reachable: 90_000, provisioned: 180_000 };

export interface HardwareUpOptions {
  /** As loadHardwareInputs gave them, from the three files. */
  inputs: HardwareInputs;
  inventoryFile: string;
  topologyFile: string;
  profileFile: string;
  /** auto: each WAN board's kernel netem, checked first; external: the WAN already has the profile's delays. */
  delay: 'auto' | 'external';
  protocol: ProtocolOptions;
  timeouts?: Partial<BringUpTimeouts>;
  signal?: AbortSignal;
}

export interface HardwareInputs { topology: Topology; inventory: Inventory; profile: DelayProfile }

/** Everything is checked before the first relay clicks: bad input must switch nothing. */
export function loadHardwareInputs(inventoryFile: string, topologyFile: string, profileFile: string): HardwareInputs {
  const topology = loadTopology(topologyFile);
  const inventory = loadInventory(inventoryFile, topology);
  boardsOnShelf(inventory, topology);
  inventory.boards.forEach(managementAddress);
  return { topology, inventory, profile: loadProfile(profileFile, topology) };
}

/** The lab's topology with each board's real NIC names. */
export function shelfTopology(state: LabState): Topology {
  return withBoardInterfaceNames(loadTopology(state.topologyFile), loadInventory(state.inventoryFile!));
}

export function relayOf(board: BoardState): RelayPowerDriver {
  if (!board.physical) throw new Error(`board ${board.name} is not a physical board`);
  return new RelayPowerDriver(board.physical.relay, { board: board.name });
}

function initialState(runDir: RunDir, inputs: HardwareInputs, opts: HardwareUpOptions): LabState {
  const shelf = boardsOnShelf(inputs.inventory, inputs.topology);
  return {
    version: 1,
    backend: 'hardware',
    phase: 'creating',
    startedAt: new Date().toISOString(),
    topologyFile: runDir.path('topology.yaml'),
    profileFile: runDir.path('profile.yaml'),
    inventoryFile: runDir.path('inventory.yaml'),
    delay: opts.delay === 'external'
      ? { mode: 'external', probe: 'the WAN between the boards has the delays already (--delay external); checked by measuring the RTT matrix' }
      : { mode: 'kernel-netem', probe: 'each WAN board is checked for sch_netem before its tc tree is applied' },
    boards: inputs.topology.boards.map((b) => {
      const p = shelf.get(b.name)!;
      return {
        name: b.name,
        site: b.site,
        roles: b.roles,
        mgmtAddress: managementAddress(p),
        login: { port: p.ssh.port, user: p.ssh.user, privateKeyPath: expandHome(p.ssh.key) },
        hostKey: p.ssh.hostKey,
        power: 'off',
        physical: { label: p.name, serialPath: p.serial.path, relay: p.relay, interfaces: p.interfaces },
      };
    }),
    pids: { serialCables: {} },
    protocol: opts.protocol,
  };
}

/**
 * A board's kernel delays: sch_netem is checked first, so a kernel without it is named as the cause
 * rather than failing inside a tc script.
 */
async function applyBoardDelays(state: LabState, topology: Topology, profile: DelayProfile, board: string): Promise<void> {
  const shell = await connectBoard(state, board);
  try {
    const netem = await boardNetem(shell);
    if (!netem.available) {
      throw new Error(`its kernel has no sch_netem (${netem.reason}); Raspberry Pi OS kernels have it as a module. If the WAN between the boards already has the profile's delays, bring the lab up with --delay external`);
    }
    await applyTcTree(topology, profile, board, (_, script) => shell.exec(script, { timeoutMs: 30_000 }));
  } finally {
    shell.close();
  }
}

/** Why a board that booted is not reachable over SSH, from its console, when the inventory gives a console login. */
async function withConsoleDiagnosis(runDir: RunDir, inventory: Inventory, err: unknown): Promise<string> {
  const message = (err as Error).message;
  if (!(err instanceof BoardStuckError) || err.state !== 'booted') return message;
  const login = inventory.boards.find((b) => b.plays === err.board)?.console;
  if (!login) return `${message}\n    (give the board a console login in the inventory and synrace logs in over the serial console to say why)`;
  const diagnosis = await diagnoseOverConsole(consoleSocketPath(runDir, err.board), err.board, login).catch((e: Error) => `console login failed too: ${e.message}`);
  return `${message}\n    seen over the serial console:\n      ${diagnosis.split('\n').join('\n      ')}`;
}

/**
 * Brings a lab up on physical boards: the inventory's relays power them, their serial consoles are
 * logged, and each board goes off -> powered -> booted -> reachable -> provisioned on its own; the
 * error of every board that got stuck names the state it is stuck in.
 */
export async function hardwareLabUp(runDir: RunDir, opts: HardwareUpOptions, progress: Progress): Promise<LabState> {
  const { inputs } = opts;
  mkdirSync(runDir.path('logs'), { recursive: true });
  copyFileSync(opts.topologyFile, runDir.path('topology.yaml'));
  copyFileSync(opts.profileFile, runDir.path('profile.yaml'));
  copyFileSync(opts.inventoryFile, runDir.path('inventory.yaml'));
  const state = initialState(runDir, inputs, opts);
  runDir.writeState(state);
  const topology = shelfTopology(state);
  const { inventory, profile } = inputs;
  progress.step(`lab ${topology.name} on shelf ${inventory.name}: ${state.boards.length} boards, profile ${profile.name}, delay by ${state.delay.mode}`);

  state.boards.forEach((b) => mkdirSync(runDir.boardDir(b.name), { recursive: true }));
  const infraLog = openSync(runDir.path('logs', 'infrastructure.log'), 'a');
  try {
    const lines = state.boards.map((b) => ({ board: b.name, path: b.physical!.serialPath, baudRate: inventory.boards.find((i) => i.plays === b.name)!.serial.baudRate }));
    await startConsoleServer(runDir, lines, infraLog, (pid) => {
      state.pids.consoleServer = pid;
      runDir.writeState(state);
    });
  } finally {
    closeSync(infraLog);
  }
  progress.step('serial consoles logged');
  opts.signal?.throwIfAborted();

  const provisioning: LabProvisioning = {
    state,
    topology,
    profile,
    options: opts.protocol,
    content: writeWebContent(runDir.path('content')),
    layoutOf: () => ({ fsRoot: '/', init: { kind: 'systemd' } }),
  };
  const delayed = new Set(opts.delay === 'auto' ? wanBoards(topology) : []);
  const provisioned = new Set(provisionedBoards(topology));
  const timeouts = { ...HARDWARE_TIMEOUTS, ...opts.timeouts };
  const bringUps = Promise.allSettled(
    state.boards.map((board) =>
      bringUp(
        board.name,
        bringUpSteps({
          power: {
            on: async () => {
              // An interrupted up is switching boards off: a board still settling must not come on after that.
              await relayOf(board).cycle(POWER_SETTLE_MS, opts.signal);
              board.power = 'on';
              runDir.writeState(state);
            },
          },
          consoleLog: runDir.consoleLog(board.name),
          bootMarker: BOOT_MARKER,
          ssh: { host: board.mgmtAddress, ...board.login, hostKey: board.hostKey },
          sshAttemptMs: 5000,
          provision: async ({ signal }) => {
            if (delayed.has(board.name)) await applyBoardDelays(state, topology, profile, board.name);
            signal.throwIfAborted();
            if (provisioned.has(board.name)) await provisionLabBoard(provisioning, board.name);
          },
        }),
        timeouts,
        (t) => progress.step(`${t.board}: ${t.from} -> ${t.to} (${(t.ms / 1000).toFixed(1)} s)`),
        opts.signal,
      ),
    ),
  );
  const results = await bringUps;
  // Ctrl-C stops every board's bring-up at once (bringUp honours the signal); the teardown switches them off.
  opts.signal?.throwIfAborted();
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failed.length) {
    const reasons = await Promise.all(failed.map((err) => withConsoleDiagnosis(runDir, inventory, err)));
    throw new Error(`${failed.length} of ${state.boards.length} boards did not come up:\n  - ${reasons.join('\n  - ')}`);
  }
  state.phase = 'up';
  runDir.writeState(state);
  return state;
}

/** What `down` could not undo on a board: the board is named and the rest goes on. */
export interface DownProblem { board: string; problem: string }

async function releaseBoard(state: LabState, topology: Topology, board: BoardState): Promise<DownProblem[]> {
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
  const relay = relayOf(board);
  try {
    await relay.off();
  } catch (err) {
    problems.push({ board: board.name, problem: `not powered off: ${(err as Error).message}` });
  }
  return problems;
}

/**
 * Hands the shelf back as it was found: units disabled and stopped, tc trees removed, every board
 * powered off, the console server stopped. A board that cannot be reached is named, not waited for.
 */
export async function hardwareLabDown(runDir: RunDir, progress: Progress): Promise<{ boards: number; processes: number; problems: DownProblem[] }> {
  const state = runDir.readState<LabState>();
  const topology = shelfTopology(state);
  const problems = (await Promise.all(state.boards.map((b) => releaseBoard(state, topology, b)))).flat();
  for (const p of problems) progress.step(`${p.board}: ${p.problem}`);
  const pid = state.pids.consoleServer;
  const processes = pid !== undefined && killIfMatches(pid, runDir.root) ? 1 : 0;
  progress.step(`${state.boards.length} boards: ${problems.length ? `${problems.length} problem(s) above` : 'units and tc trees removed, relays open'}; console server stopped`);
  return { boards: state.boards.length, processes, problems };
}
