// The QEMU command line of a board, as data: one place that decides the machine, the devices and the
// sockets, testable without starting anything.
import { join } from 'node:path';
import type { QemuMachineResource } from '../resources';
import type { FirmwareBoot } from './pi-firmware';

export type Accelerator = 'kvm' | 'tcg';

export const TCG_TB_CACHE_MIB = 128;

/**
 * Appended to cmdline.txt's line under TCG, as a Pi's firmware appends its own. TCG executes nothing
 * speculatively, so the kernel's Spectre and Meltdown mitigations only cost time there, and arm64's kernel page
 * table isolation (forced on by KASLR) the most: alone on this host an arm64 board reached multi-user in 96 s
 * with it and 61 s without (docs/decisions.md). Under KVM the guest runs on a real CPU and keeps them.
 */
export const TCG_KERNEL_ARGS: Record<QemuMachineResource['arch'], string[]> = { amd64: ['mitigations=off'], arm64: ['mitigations=off', 'kpti=0'] };

export const QEMU_BINARY: Record<QemuMachineResource['arch'], string> = { amd64: 'qemu-system-x86_64', arm64: 'qemu-system-aarch64' };

/** Files of the board's state directory that QEMU and its firmware share. */
export function statePaths(stateDir: string) {
  return {
    /** The serial adapter listens here; QEMU's UART connects to it. */
    serialSocket: join(stateDir, 'serial.sock'),
    /** The firmware's own QMP monitor (events, cont); the resource's qmpPath is the power driver's. */
    firmwareQmp: join(stateDir, 'firmware-qmp.sock'),
    qemuPid: join(stateDir, 'qemu.pid'),
    firmwarePid: join(stateDir, 'firmware.pid'),
    firmwareLog: join(stateDir, 'firmware.log'),
    firmwareConfig: join(stateDir, 'firmware.json'),
    serialPid: join(stateDir, 'serial-adapter.pid'),
    serialLog: join(stateDir, 'serial-adapter.log'),
    boot: join(stateDir, 'boot'),
  };
}

/**
 * amd64: a q35 PC; arm64: `virt` with a Cortex-A72 (a Pi 4's core, and much quicker under TCG than `max`
 * with its pointer authentication). -nodefaults leaves only what is listed: the UART, a virtio disk, virtio
 * NICs, a virtio RNG (so sshd's key generation and the kernel's entropy do not stall a board's boot).
 * -S holds the CPUs until the firmware has its QMP monitor attached and says `cont`, so no SHUTDOWN event
 * can happen before it listens. -no-reboot turns a guest reboot into QEMU's exit, so the firmware reads
 * the boot partition again, as a Pi does.
 */
export function qemuArgv(m: QemuMachineResource, boot: FirmwareBoot, accel: Accelerator): string[] {
  const paths = statePaths(m.stateDir);
  // TCG's translation cache defaults to 1 GiB, which an idle board fills to over twice its RAM; 128 MiB
  // keeps a board at about its guest memory, for a little more retranslation.
  const accelArgs = accel === 'kvm' ? ['-accel', 'kvm'] : ['-accel', `tcg,tb-size=${TCG_TB_CACHE_MIB}`];
  const machine = m.arch === 'amd64' ? ['-machine', 'q35', '-cpu', accel === 'kvm' ? 'host' : 'max'] : ['-machine', 'virt', '-cpu', 'cortex-a72'];
  return [
    QEMU_BINARY[m.arch],
    '-name', `${m.name},process=srvm-qemu-${m.name}`,
    ...accelArgs,
    ...machine,
    '-smp', String(m.cpus),
    '-m', String(m.memoryMiB),
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-S',
    '-kernel', boot.kernel,
    ...(boot.initrd ? ['-initrd', boot.initrd] : []),
    '-append', [boot.cmdline, ...(accel === 'tcg' ? TCG_KERNEL_ARGS[m.arch] : [])].join(' '),
    '-drive', `file=${m.disk},format=raw,if=none,id=disk0,cache=writeback`,
    '-device', 'virtio-blk-pci,drive=disk0',
    '-object', 'rng-random,id=rng0,filename=/dev/urandom',
    '-device', 'virtio-rng-pci,rng=rng0',
    // reconnect: a relay that ended (the console server reopened the pty) is rejoined within a second.
    '-chardev', `socket,id=serial0,path=${paths.serialSocket},reconnect=1`,
    '-serial', 'chardev:serial0',
    ...m.nics.flatMap((nic, i) => ['-netdev', `tap,id=net${i},ifname=${nic.tap},script=no,downscript=no`, '-device', `virtio-net-pci,netdev=net${i},mac=${nic.mac}`]),
    '-qmp', `unix:${m.qmpPath},server=on,wait=off`,
    '-qmp', `unix:${paths.firmwareQmp},server=on,wait=off`,
    '-pidfile', paths.qemuPid,
  ];
}
