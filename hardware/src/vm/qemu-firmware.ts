// The per-board firmware process: what stands between a QEMU board's power switch and its kernel. While the
// board has power it loops: read the boot partition (pi-firmware.ts), start QEMU, release its CPUs, and
// when QEMU exits because the guest rebooted (-no-reboot), start again from the boot partition, so
// cmdline.txt edits take effect as on a Pi. Any other end (QMP quit = power cut, guest poweroff, a crash)
// ends the process: the board is off. It runs detached (bin/qemu-firmware.ts), so it outlives the CLI
// that powered the board on, like the console server does.
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import type { QemuMachineResource } from '../resources';
import type { Accelerator } from './qemu-argv';
import { qemuArgv, statePaths } from './qemu-argv';
import { readFirmwareBoot } from './pi-firmware';
import { QmpClient, type QmpEvent } from './qmp-client';

export interface FirmwareConfig {
  machine: QemuMachineResource;
  accel: Accelerator;
}

/** Why one QEMU run ended, from its last SHUTDOWN event ('none' when it died without one). */
export type RunEnd = 'guest-reset' | 'guest-shutdown' | 'host-qmp-quit' | 'host-signal' | 'guest-panic' | 'none' | string;

/** Reboots one after another this fast mean a boot loop, not a board: stop rather than spin. */
const MAX_QUICK_REBOOTS = 5;
const QUICK_REBOOT_MS = 3000;

export async function runFirmware(config: FirmwareConfig, log: (line: string) => void): Promise<number> {
  const m = config.machine;
  const paths = statePaths(m.stateDir);
  let stopping = false;
  let current: ReturnType<typeof spawn> | undefined;
  const stop = (signal: string) => {
    log(`${signal}: power cut`);
    stopping = true;
    current?.kill('SIGKILL');
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  let quickReboots = 0;
  for (let boot = 1; !stopping; boot++) {
    const started = Date.now();
    const firmware = await readFirmwareBoot(m.disk, m.arch, paths.boot).catch((err: Error) => err);
    if (firmware instanceof Error) {
      log(`boot ${boot}: ${firmware.message}`);
      return 1;
    }
    log(`boot ${boot}: ${config.accel}, cmdline: ${firmware.cmdline}`);
    const argv = qemuArgv(m, firmware, config.accel);
    const out = openSync(paths.firmwareLog, 'a');
    const qemu = spawn(argv[0], argv.slice(1), { stdio: ['ignore', out, out] });
    closeSync(out);
    current = qemu;
    const exited = new Promise<number | null>((resolve) => qemu.on('exit', (code) => resolve(code)));
    qemu.on('error', (err) => log(`cannot start ${argv[0]}: ${err.message}`));
    let end: RunEnd = 'none';
    const qmp = await Promise.race([
      QmpClient.connect(paths.firmwareQmp, { timeoutMs: 5000, retryMs: 10_000 }).catch((err: Error) => err),
      exited.then((c) => new Error(`QEMU exited (${c}) before its QMP monitor answered; see ${paths.firmwareLog}`)),
    ]);
    if (qmp instanceof Error) {
      log(`boot ${boot}: QEMU's QMP monitor did not answer: ${qmp.message}`);
      qemu.kill('SIGKILL');
      await exited;
      return 1;
    }
    qmp.on('event', (e: QmpEvent) => {
      if (e.event === 'SHUTDOWN') end = String(e.data?.reason ?? 'none');
      if (e.event === 'GUEST_PANICKED') end = 'guest-panic';
    });
    if (!stopping) await qmp.execute('cont').catch(() => undefined);
    const code = await exited;
    qmp.close();
    current = undefined;
    log(`boot ${boot}: QEMU exited (${code}), reason ${end}`);
    if (stopping || end !== 'guest-reset') return end === 'host-qmp-quit' || end === 'guest-shutdown' || stopping ? 0 : 1;
    quickReboots = Date.now() - started < QUICK_REBOOT_MS ? quickReboots + 1 : 0;
    if (quickReboots >= MAX_QUICK_REBOOTS) {
      log(`${quickReboots} reboots within ${QUICK_REBOOT_MS} ms of power-on each: a boot loop; switching off`);
      return 1;
    }
    log('guest rebooted: reading the boot partition again');
  }
  return 0;
}

/** Records this process as the board's firmware (the machine driver finds and checks it by this file). */
export function writeFirmwarePid(stateDir: string): void {
  writeFileSync(statePaths(stateDir).firmwarePid, `${process.pid}\n`);
}
