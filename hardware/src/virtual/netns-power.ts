import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { ipBatch } from '../host-command';
import { processStartTime } from '../host-processes';
import { powerCycle } from '../drivers/power/power-cycle';
import type { PowerDriver } from '../drivers/power/power-driver';
import { killNetnsProcesses, linksOf } from './netns';

/** What a virtual board has: its network namespace and the boot script that plays its OS start-up. */
export interface NetnsBoardResource {
  name: string;
  netns: string;
  bootScript: string;
  /** Where power-on notes the pid and start time of the board's init, which power-off kills. */
  initFile: string;
  /** Where the init's own output goes (the boot script sends its to the board's console itself). */
  logFile: string;
}

/** The init of a booted board: its pid on the host and its start time, which pins the process. */
interface InitRecord { pid: number; startTime: string }

/**
 * Power for a board that is a network namespace. On boots it as a machine of its own: an init (tini)
 * as PID 1 of fresh PID, mount, UTS and IPC namespaces inside the board's network namespace, running
 * the boot script, so the board's `ps` lists its own processes alone and its hostname is its own. Off
 * cuts it like a relay would: killing the init ends every process of the board at once, and its links
 * go down.
 */
export class NetnsPowerDriver implements PowerDriver {
  constructor(readonly board: NetnsBoardResource) {}

  async on(): Promise<void> {
    if (await this.isOn()) return;
    // The board's UTS namespace is new at every boot, so its hostname is set at every boot, as a Pi's init does.
    // Its own /sys too, as `ip netns exec` does: sysfs mounted here shows the board's network devices, not the host's.
    const boot = `hostname ${this.board.name} && umount -l /sys && mount -t sysfs sysfs /sys && bash ${this.board.bootScript}; exec sleep infinity`;
    const argv = ['nsenter', `--net=/run/netns/${this.board.netns}`, 'unshare', '--pid', '--mount', '--uts', '--ipc', '--fork', '--mount-proc', '--kill-child', 'tini', '-s', '--', 'bash', '-c', boot];
    const log = openSync(this.board.logFile, 'a');
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    child.unref();
    const pid = child.pid;
    const startTime = pid === undefined ? undefined : processStartTime(pid);
    if (pid === undefined || startTime === undefined) throw new Error(`board ${this.board.name} did not power on: its init did not start (see ${this.board.logFile})`);
    writeFileSync(this.board.initFile, JSON.stringify({ pid, startTime } satisfies InitRecord));
  }

  async off(): Promise<void> {
    const init = this.init();
    if (init) {
      try {
        process.kill(init.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    rmSync(this.board.initFile, { force: true });
    // What entered the namespace from outside (nsenter) has no init above it.
    await killNetnsProcesses([this.board.netns]);
    const links = await linksOf(this.board.netns);
    await ipBatch(links.map((l) => `link set ${l.ifname} down`), this.board.netns);
  }

  async isOn(): Promise<boolean> {
    return this.init() !== undefined;
  }

  cycle(settleMs: number, signal?: AbortSignal): Promise<void> {
    return powerCycle(this, settleMs, signal);
  }

  private init(): InitRecord | undefined {
    if (!existsSync(this.board.initFile)) return undefined;
    const record = JSON.parse(readFileSync(this.board.initFile, 'utf8')) as InitRecord;
    return processStartTime(record.pid) === record.startTime ? record : undefined;
  }
}
