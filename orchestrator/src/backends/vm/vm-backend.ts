import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { BoardStuckError, buildBoardImage, flashBoardDisk, qemuHostProblems, run, generateKeyPair, QemuMachine, QmpPowerDriver, waitForConsoleHostKey, type BoardArch, type BoardImage, type BringUpTimeouts, type QemuMachineResource } from '@synrace/hardware';
import { createStep, type CreateRequest, type DownProblem, type LabBackend } from '../lab-backend';
import { consoleSocketPath, startConsoleServer } from '../../labs/console-server-process';
import { BOOT_MARKER, diagnoseOverConsole } from '../getty-console';
import { labDiskDir, LabHostNames } from '../../labs/host-names';
import type { BoardRecord, LabState } from '../../labs/lab-state';
import type { RunDir } from '../../labs/run-dir';
import type { BoardLayout } from '../../provision/provision-lab';
import { createVmNetwork } from './vm-network';
import { planVmLab, type VmBoardPlan, type VmLabPlan } from './vm-plan';
import { startHostMadeLab } from '../host-made-lab';

/**
 * Under TCG on two cores, a first boot is three boots (as a Pi's: initramfs fix-up, firstrun, then the
 * customised system) of every board at once: 167-244 s in the atlantic lab alone on the host, but 259-610 s
 * from the first kernel line to the login prompt in eight CI runs, where the namespace lanes' tests share the
 * cores (one CI lost a board that took 610 s to a ten-minute limit). Provisioning compiles nothing any more:
 * 27-60 s a board. Twenty and five minutes name a stuck board well within the CI's 90 minutes.
 */
export const VM_TIMEOUTS: BringUpTimeouts = { powered: 60_000, booted: 1_200_000, reachable: 300_000, provisioned: 300_000 };

/** How much longer a command takes on a board whose CPU QEMU emulates (TCG), with its neighbours on the same two cores. */
const TCG_TIME_SCALE = 10;

function machineOf(board: BoardRecord): QemuMachine {
  if (!board.vm) throw new Error(`board ${board.name} is not a QEMU board`);
  return new QemuMachine(board.vm.machine);
}

function machineResource(runDir: RunDir, plan: VmLabPlan, board: VmBoardPlan, disk: string): QemuMachineResource {
  const dir = runDir.boardDir(board.name);
  return {
    name: board.name,
    arch: board.arch,
    memoryMiB: board.memoryMiB,
    cpus: 1,
    disk,
    nics: board.nics.map(({ tap, mac }) => ({ tap, mac })),
    serialPath: join(dir, 'serial'),
    qmpPath: join(dir, 'qmp.sock'),
    stateDir: join(dir, 'machine'),
    netns: plan.netns,
  };
}

/**
 * Boards as QEMU machines, each booted from its own flashed disk as a Pi from its SD card: the board image
 * (built once per machine into the image cache), written with the flasher's writer, read-back verify and
 * first-boot customisation; QMP for power; a serial adapter per board that the lab's console server logs;
 * virtio NICs on TAPs in the lab's namespace. Delays are kernel netem in the guests, as on a Pi.
 */
export class VmBackend implements LabBackend {
  readonly kind = 'vm' as const;
  readonly timeouts = VM_TIMEOUTS;
  /** QMP quit is instant; the pause only keeps an off-on a visible cut in the console log. */
  readonly powerSettleMs = 500;
  readonly bootMarker = BOOT_MARKER;

  constructor(private readonly runDir: RunDir) {}

  async create(request: CreateRequest): Promise<LabState> {
    const { runDir, inputs, signal } = request;
    const step = createStep(request);
    // Before anything is made: what this host lacks to run the boards, or to build their image, is named here.
    const arches = [...new Set(inputs.topology.boards.map((b) => b.arch ?? 'amd64'))];
    const missing = [...new Set(arches.flatMap((arch) => qemuHostProblems(arch)))];
    if (missing.length) throw new Error(`this host cannot run the lab's QEMU boards (${arches.join(', ')}):\n  ${missing.join('\n  ')}`);
    const images = await boardImages(arches, (arch, message) => step(`image ${arch}: ${message}`), signal);
    const names = new LabHostNames(request.name);
    const disks = labDiskDir(request.name);
    const delay = { mode: 'kernel-netem' as const, probe: 'each WAN board is checked for sch_netem before its tc tree is applied' };
    const { plan, state } = await startHostMadeLab(request, 'vm', delay, (subnet) => planVmLab(inputs.topology, names, subnet), (p) =>
      p.boards.map((b) => ({
        name: b.name,
        site: b.site,
        roles: b.roles,
        mgmtAddress: b.mgmtAddress,
        login: { port: 22, user: 'root', privateKeyPath: runDir.path('lab_key') },
        // Pinned from the board's console at its first boot (hostKeyFromConsole).
        hostKey: '',
        power: 'off',
        vm: { machine: machineResource(runDir, p, b, join(disks, `${b.name}.img`)), console: { user: b.firstBoot.user, password: randomBytes(12).toString('base64url') } },
      })),
    );
    step(`lab ${request.name} (topology ${inputs.topology.name}): ${plan.boards.length} QEMU boards (${plan.boards.map((b) => `${b.name} ${b.arch}`).join(', ')}), profile ${inputs.profile.name}, delay by kernel netem, management ${plan.mgmtSubnet}`);

    const manifest = runDir.manifest();
    manifest.record({ kind: 'directory', path: disks });
    mkdirSync(disks, { recursive: true });
    const network = async () => {
      await createVmNetwork(plan, runDir);
      step(`namespace ${plan.netns}: bridges ${plan.bridges.join(', ')} and ${plan.boards.reduce((n, b) => n + b.nics.length, 0)} TAPs`);
    };
    const flashAll = async () => {
      const labKey = await generateKeyPair(runDir.path('lab_key'), `synrace lab ${request.name} key`);
      await Promise.all(plan.boards.map(async (b, i) => {
        const { machine, console } = state.boards[i].vm!;
        const passwordHash = await cryptHash(console.password);
        const flashed = await flashBoardDisk({ image: images.get(b.arch)!.path, disk: machine.disk, firstBoot: { ...b.firstBoot, authorizedKeys: [labKey.publicKey], passwordHash } });
        step(`${b.name}: disk flashed and verified (${(flashed.bytes / 2 ** 20).toFixed(0)} MiB in ${flashed.seconds.toFixed(1)} s), first boot customised`);
      }));
    };
    const tracks = await Promise.allSettled([network(), flashAll()]);
    const failed = tracks.find((t): t is PromiseRejectedResult => t.status === 'rejected');
    if (failed) throw failed.reason;

    const infraLog = openSync(runDir.path('logs', 'infrastructure.log'), 'a');
    try {
      for (const b of state.boards) {
        mkdirSync(runDir.boardDir(b.name), { recursive: true });
        // Checks the machine (QEMU for its architecture, its TAPs, a kernel on its disk) and plugs in its serial adapter.
        await machineOf(b).create();
      }
      const lines = state.boards.map((b) => ({ board: b.name, path: b.vm!.machine.serialPath, baudRate: 115200 }));
      await startConsoleServer(runDir, lines, infraLog, (pid) => manifest.recordProcess('console server', pid));
    } finally {
      closeSync(infraLog);
    }
    step('serial adapters plugged in and logged');
    return state;
  }

  power(board: BoardRecord): QmpPowerDriver {
    return new QmpPowerDriver(machineOf(board));
  }

  layout(): BoardLayout {
    return { fsRoot: '/', init: { kind: 'systemd' }, timeScale: TCG_TIME_SCALE };
  }

  /** The kernel's console is the board's UART, as console=serial0 makes it on a Pi. */
  consoleDevice(): string {
    return '/dev/console';
  }

  /** The key a freshly flashed board generated at first boot, printed on its console before its login prompt. */
  async hostKeyFromConsole(board: BoardRecord, since: number): Promise<string> {
    return waitForConsoleHostKey(this.runDir.consoleLog(board.name), since, 60_000);
  }

  /** Why a booted board is not reachable over SSH, seen by logging in on its serial console with the password its flash set. */
  async explainStuck(err: unknown): Promise<string> {
    const message = (err as Error).message;
    if (!(err instanceof BoardStuckError) || err.state !== 'booted') return message;
    const board = this.runDir.readState<LabState>().boards.find((b) => b.name === err.board);
    if (!board?.vm) return message;
    const diagnosis = await diagnoseOverConsole(consoleSocketPath(this.runDir, board.name), board.name, board.vm.console).catch((e: Error) => `console login failed too: ${e.message}`);
    return `${message}\n    seen over the serial console:\n      ${diagnosis.split('\n').join('\n      ')}`;
  }

  /** The disks go with the lab: nothing on a board outlives it, and teardown stops every QEMU in the lab's namespace. */
  async release(): Promise<DownProblem[]> {
    return [];
  }
}

/** The SHA-512 crypt(3) hash of a password, as the board's userconf takes it. */
async function cryptHash(password: string): Promise<string> {
  return (await run(['openssl', 'passwd', '-6', '-stdin'], { input: `${password}\n` })).stdout.trim();
}

/** Each architecture the topology's boards have: its image, from the cache or built into it. */
async function boardImages(arches: BoardArch[], say: (arch: BoardArch, message: string) => void, signal?: AbortSignal): Promise<Map<BoardArch, BoardImage>> {
  const images = new Map<BoardArch, BoardImage>();
  for (const arch of arches) {
    let last = 0;
    const image = await buildBoardImage({
      arch,
      signal,
      // The builder reports every package; a line every 15 s says the build goes on.
      onProgress: (p) => {
        if (p.phase !== 'packages' || p.elapsedMs - last > 15_000) {
          last = p.elapsedMs;
          say(arch, p.message);
        }
      },
    });
    images.set(arch, image);
  }
  return images;
}
