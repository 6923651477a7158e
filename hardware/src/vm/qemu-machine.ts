// The driver of a QemuMachineResource (labgrid's QEMUDriver, shaped like a Pi on a shelf): its serial
// adapter is plugged in for as long as the board exists; power-on starts the board's firmware process,
// which boots QEMU from what the disk's boot partition says (and again after every guest reboot);
// power-off is QMP `quit`, an instant stop like cutting a relay. Input is checked, every problem named with
// its fix, before anything is created.
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { BOARD_ARCHES, type BoardArch } from '../image/image-recipe';
import type { QemuMachineResource } from '../resources';
import { cmdlineOf, killIfMatches } from '../virtual/netns';
import { chooseAccelerator, type AcceleratorChoice } from './kvm-probe';
import { readFirmwareBoot } from './pi-firmware';
import { QEMU_BINARY, statePaths } from './qemu-argv';
import type { FirmwareConfig } from './qemu-firmware';
import { QmpClient } from './qmp-client';
import { tapExists } from './tap';
import { plugSerialAdapter, unplugSerialAdapter, type SerialAdapterPaths } from './serial-adapter';

export class QemuMachineError extends Error {
  constructor(readonly board: string, readonly problems: string[]) {
    super(`QEMU board ${board}:\n  ${problems.join('\n  ')}`);
    this.name = 'QemuMachineError';
  }
}

const QEMU_PACKAGE: Record<string, string> = { amd64: 'qemu-system-x86', arm64: 'qemu-system-arm' };
const FIRMWARE_SCRIPT = join(__dirname, '..', '..', 'bin', 'qemu-firmware.js');

/** Whether `tool` is an executable in one of `searchPath`'s directories (PATH by default). */
function onPath(tool: string, searchPath: string): boolean {
  return searchPath.split(':').some((dir) => dir !== '' && existsSync(join(dir, tool)));
}

/** What this host lacks to run a board of `arch` (QEMU for it, the serial adapter, the firmware's mtools), each with its fix. */
export function qemuHostProblems(arch: string, searchPath = process.env.PATH ?? ''): string[] {
  const problems: string[] = [];
  if (!(BOARD_ARCHES as readonly string[]).includes(arch)) {
    problems.push(`unknown architecture ${JSON.stringify(arch)}: use one of ${BOARD_ARCHES.join(', ')}`);
  } else if (!onPath(QEMU_BINARY[arch as BoardArch], searchPath)) {
    problems.push(`${QEMU_BINARY[arch as BoardArch]} is missing: apt-get install ${QEMU_PACKAGE[arch]}`);
  }
  if (!onPath('socat', searchPath)) problems.push('socat (the serial adapter) is missing: apt-get install socat');
  if (!onPath('mcopy', searchPath)) problems.push('mtools (the firmware reads the boot partition with it) is missing: apt-get install mtools');
  return problems;
}

/**
 * Everything wrong with a board's resource, each with its fix; empty when it can be powered on. Reads the
 * disk's boot partition as the firmware will, so a disk without a kernel is named here, not in a log.
 */
export async function qemuMachineProblems(m: QemuMachineResource, searchPath = process.env.PATH ?? ''): Promise<string[]> {
  const problems: string[] = [];
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(m.name)) problems.push(`name ${JSON.stringify(m.name)}: use letters, digits, '.', '_' and '-'`);
  problems.push(...qemuHostProblems(m.arch, searchPath));
  if (!Number.isInteger(m.memoryMiB) || m.memoryMiB < 128) problems.push(`memoryMiB ${m.memoryMiB}: give at least 128`);
  if (!Number.isInteger(m.cpus) || m.cpus < 1) problems.push(`cpus ${m.cpus}: give at least 1`);
  if (m.netns !== undefined && !existsSync(`/run/netns/${m.netns}`)) problems.push(`netns ${m.netns} does not exist: create it (ip netns add) with the board's TAPs in it`);
  for (const [i, nic] of m.nics.entries()) {
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(nic.mac) || (parseInt(nic.mac.slice(0, 2), 16) & 1) === 1) {
      problems.push(`nics[${i}].mac ${JSON.stringify(nic.mac)}: give a unicast MAC such as 52:54:00:xx:xx:xx`);
    }
    if (!(await tapExists(nic.tap, m.netns))) {
      const where = m.netns === undefined ? '' : ` in netns ${m.netns}`;
      problems.push(`nics[${i}].tap ${nic.tap} does not exist${where}: create it first (createTap, ip${m.netns === undefined ? '' : ` -n ${m.netns}`} tuntap add dev ${nic.tap} mode tap)`);
    }
  }
  if (!existsSync(m.disk)) {
    problems.push(`disk ${m.disk} does not exist: build an image (synrace image build --arch ${m.arch}) and flash it to that file`);
  } else if (problems.length === 0) {
    const scratch = await mkdtemp(join(m.stateDir, '..', `.srvm-check-${m.name}-`)).catch(() => undefined);
    if (scratch === undefined) problems.push(`state directory ${m.stateDir}: its parent must exist and be writable`);
    else {
      await readFirmwareBoot(m.disk, m.arch, scratch).catch((err: Error) => problems.push(err.message));
      await rm(scratch, { recursive: true, force: true });
    }
  }
  return problems;
}

export interface PowerOnResult {
  accel: AcceleratorChoice;
  /** From spawning the firmware to QEMU's QMP answering: the board's power-on, not its boot. */
  milliseconds: number;
}

export class QemuMachine {
  private readonly paths: ReturnType<typeof statePaths>;
  private readonly adapter: SerialAdapterPaths;

  constructor(readonly resource: QemuMachineResource) {
    this.paths = statePaths(resource.stateDir);
    this.adapter = { serialPath: resource.serialPath, socket: this.paths.serialSocket, pidFile: this.paths.serialPid, logFile: this.paths.serialLog };
  }

  /** Checks the resource, then plugs in the serial adapter (the console server can open serialPath after this). */
  async create(): Promise<void> {
    const problems = await qemuMachineProblems(this.resource);
    if (problems.length > 0) throw new QemuMachineError(this.resource.name, problems);
    await mkdir(this.resource.stateDir, { recursive: true });
    await plugSerialAdapter(this.adapter);
  }

  /** Cold boot: starts the firmware process; resolves once QEMU runs the guest. */
  async powerOn(): Promise<PowerOnResult> {
    const started = Date.now();
    if (await this.isPoweredOn()) throw new QemuMachineError(this.resource.name, ['is already on: power it off first']);
    const problems = await qemuMachineProblems(this.resource);
    if (problems.length > 0) throw new QemuMachineError(this.resource.name, problems);
    await plugSerialAdapter(this.adapter);
    const boot = await readFirmwareBoot(this.resource.disk, this.resource.arch, this.paths.boot);
    const accel: AcceleratorChoice =
      this.resource.accel === 'tcg' || this.resource.arch !== 'amd64'
        ? { accel: 'tcg', reason: this.resource.arch !== 'amd64' ? `${this.resource.arch} guest on an x86 host` : 'resource says tcg' }
        : await chooseAccelerator(boot.kernel);
    if (this.resource.accel === 'kvm' && accel.accel !== 'kvm') throw new QemuMachineError(this.resource.name, [`KVM was asked for, but ${accel.reason}: use accel 'auto' or 'tcg'`]);
    const config: FirmwareConfig = { machine: this.resource, accel: accel.accel };
    await writeFile(this.paths.firmwareConfig, JSON.stringify(config, null, 2));
    await rm(this.paths.firmwarePid, { force: true });
    const log = openSync(this.paths.firmwareLog, 'a');
    let firmwareExited = false;
    try {
      // In the board's namespace, QEMU opens its TAPs there; nsenter execs node, so the pid is the firmware's.
      const argv = [...(this.resource.netns === undefined ? [] : ['nsenter', `--net=/run/netns/${this.resource.netns}`]), process.execPath, FIRMWARE_SCRIPT, this.paths.firmwareConfig];
      const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
      child.on('exit', () => (firmwareExited = true));
      child.unref();
    } finally {
      closeSync(log);
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      const qmp = await QmpClient.connect(this.resource.qmpPath, { timeoutMs: 2000 }).catch(() => undefined);
      if (qmp) {
        const status = (await qmp.execute('query-status').catch(() => undefined)) as { status?: string } | undefined;
        qmp.close();
        if (status?.status === 'running') return { accel, milliseconds: Date.now() - started };
      }
      if (firmwareExited || Date.now() > deadline) {
        const tail = (await readFile(this.paths.firmwareLog, 'utf8').catch(() => '')).trim().split('\n').slice(-8).join('\n  ');
        await this.powerOff();
        throw new QemuMachineError(this.resource.name, [`did not power on (${firmwareExited ? 'its firmware exited' : 'no running QEMU within 30 s'}); ${this.paths.firmwareLog}:\n  ${tail}`]);
      }
      await delay(100);
    }
  }

  /** The firmware process, when one runs for this board. */
  async firmwarePid(): Promise<number | undefined> {
    const pid = Number((await readFile(this.paths.firmwarePid, 'utf8').catch(() => '')).trim());
    return pid > 0 && cmdlineOf(pid)?.includes(this.paths.firmwareConfig) ? pid : undefined;
  }

  /** QEMU's pid while it runs. */
  async qemuPid(): Promise<number | undefined> {
    const pid = Number((await readFile(this.paths.qemuPid, 'utf8').catch(() => '')).trim());
    return pid > 0 && cmdlineOf(pid)?.includes(this.resource.qmpPath) ? pid : undefined;
  }

  /** Power is on while the firmware runs: between a guest reboot and the next QEMU it is still on. */
  async isPoweredOn(): Promise<boolean> {
    return (await this.firmwarePid()) !== undefined;
  }

  /**
   * Hard stop, like a relay opening: QMP `quit` ends QEMU at once (no guest shutdown), and the firmware,
   * seeing host-qmp-quit, does not boot again. When QMP does not answer (QEMU is between two boots, or hung),
   * the firmware is told to cut power itself, and what is left is killed.
   */
  async powerOff(): Promise<void> {
    const qmp = await QmpClient.connect(this.resource.qmpPath, { timeoutMs: 2000 }).catch(() => undefined);
    if (qmp) {
      await qmp.execute('quit').catch(() => undefined);
      qmp.close();
    }
    const firmware = await this.firmwarePid();
    for (let i = 0; i < 50 && (await this.isPoweredOn()); i++) await delay(100);
    if (firmware !== undefined && (await this.isPoweredOn())) killIfMatches(firmware, this.paths.firmwareConfig, 'SIGTERM');
    for (let i = 0; i < 50 && (await this.isPoweredOn()); i++) await delay(100);
    const qemu = await this.qemuPid();
    if (qemu !== undefined) killIfMatches(qemu, this.resource.qmpPath, 'SIGKILL');
    if (firmware !== undefined && cmdlineOf(firmware)?.includes(this.paths.firmwareConfig)) killIfMatches(firmware, this.paths.firmwareConfig, 'SIGKILL');
    for (let i = 0; i < 50 && ((await this.qemuPid()) !== undefined || (await this.isPoweredOn())); i++) await delay(100);
    await rm(this.paths.qemuPid, { force: true });
    await rm(this.resource.qmpPath, { force: true });
    await rm(this.paths.firmwareQmp, { force: true });
  }

  /** Power off, unplug the serial adapter and remove everything this driver made except its logs. */
  async destroy(): Promise<void> {
    await this.powerOff();
    await unplugSerialAdapter(this.adapter);
    await rm(this.paths.boot, { recursive: true, force: true });
    await rm(this.paths.firmwareConfig, { force: true });
    await rm(this.paths.firmwarePid, { force: true });
  }
}
