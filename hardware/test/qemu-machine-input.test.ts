import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBoardImage } from '../src/image/build-image';
import { UnknownArchError } from '../src/image/image-recipe';
import { hostKeysFromConsole, HOST_KEYS_BEGIN, HOST_KEYS_END } from '../src/image/pi-os-helpers';
import type { QemuMachineResource } from '../src/resources';
import { kernelCommandLine, parseConfigTxt } from '../src/vm/pi-firmware';
import { qemuArgv } from '../src/vm/qemu-argv';
import { flashBoardDisk } from '../src/vm/board-disk';
import { QemuMachine, QemuMachineError, qemuMachineProblems } from '../src/vm/qemu-machine';
import { Cleanup } from '../src/testing/cleanup';
import { buildPiImage } from './support/pi-image';
import { makeWorkDir } from './support/qemu-board';

describe('QEMU board input: every problem named with its fix, before anything is made', function () {
  this.timeout(60_000);
  const cleanup = new Cleanup();
  let dir: string;
  let resource: QemuMachineResource;

  before(async () => {
    dir = await makeWorkDir('input', cleanup);
    resource = {
      name: 'srvm-in1',
      arch: 'arm64',
      memoryMiB: 256,
      cpus: 1,
      disk: join(dir, 'board.disk'),
      nics: [],
      serialPath: join(dir, 'board.tty'),
      qmpPath: join(dir, 'board.qmp'),
      stateDir: join(dir, 'state'),
    };
  });
  after(() => cleanup.run());

  it('names an unknown architecture, and creates nothing', async () => {
    const bad = { ...resource, arch: 'riscv64' } as unknown as QemuMachineResource;
    await assert.rejects(new QemuMachine(bad).create(), (err: unknown) =>
      err instanceof QemuMachineError && err.message.includes('unknown architecture "riscv64": use one of amd64, arm64'));
    assert.equal(existsSync(resource.stateDir), false);
    assert.equal(existsSync(resource.serialPath), false);
  });

  it('names a missing QEMU binary with the Debian package that has it', async () => {
    // A PATH with everything but QEMU.
    const bin = join(dir, 'bin');
    await mkdir(bin);
    await symlink('/usr/bin/socat', join(bin, 'socat'));
    await symlink('/usr/bin/mcopy', join(bin, 'mcopy'));
    const problems = await qemuMachineProblems(resource, bin);
    assert.ok(problems.includes('qemu-system-aarch64 is missing: apt-get install qemu-system-arm'), problems.join('\n'));
  });

  it('names a missing disk and a missing TAP', async () => {
    const problems = await qemuMachineProblems({ ...resource, nics: [{ tap: 'srvm-nosuch0', mac: '52:54:00:00:00:01' }, { tap: 'lo', mac: '01:00:5e:00:00:01' }] });
    assert.ok(problems.some((p) => p.startsWith(`disk ${resource.disk} does not exist: build an image (synrace image build --arch arm64) and flash it`)), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('nics[0].tap srvm-nosuch0 does not exist: create it first')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('nics[1].mac "01:00:5e:00:00:01": give a unicast MAC')), problems.join('\n'));
  });

  it('names a boot partition without the kernel config.txt names, and creates nothing', async () => {
    await buildPiImage(resource.disk, { bootMiB: 40, rootMiB: 8, bootFiles: { 'cmdline.txt': 'console=serial0,115200 root=/dev/vda2\n', 'config.txt': 'kernel=vmlinuz\n' } });
    await assert.rejects(new QemuMachine(resource).create(), (err: unknown) =>
      err instanceof QemuMachineError && /the boot partition has no kernel vmlinuz \(config\.txt kernel=\): rebuild the image/.test(err.message));
    assert.equal(existsSync(resource.stateDir), false);
  });

  it('names a missing board image before creating the disk file', async () => {
    const disk = join(dir, 'never.disk');
    const image = join(dir, 'no-such.img');
    await assert.rejects(
      flashBoardDisk({ image, disk, firstBoot: { hostname: 'b1', user: 'synrace', authorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKx2w0vjz7TqY0b1Yw0p6m0oQq7pQnNn0Hm0tqZ0n4Uv t'], management: { address: '10.0.0.2/24' } } }),
      (err: unknown) => err instanceof Error && err.message.startsWith(`board image ${image} does not exist: build one with buildBoardImage (synrace image build`),
    );
    assert.equal(existsSync(disk), false);
  });

  it('refuses to build an image for an unknown architecture before touching the cache', async () => {
    const cacheDir = join(dir, 'cache');
    await assert.rejects(buildBoardImage({ arch: 'mips', cacheDir }), (err: unknown) =>
      err instanceof UnknownArchError && err.message === 'unknown board architecture "mips": use one of amd64, arm64');
    assert.equal(existsSync(cacheDir), false);
  });
});

describe('QEMU board firmware and command line', () => {
  it('reads config.txt as the Pi firmware does (last kernel= wins, initramfs ... followkernel)', () => {
    assert.deepEqual(parseConfigTxt('[all]\nkernel=a.img\n# kernel=commented\nkernel=vmlinuz\ninitramfs initrd.img followkernel\n'), { kernel: 'vmlinuz', initramfs: 'initrd.img' });
    assert.deepEqual(parseConfigTxt(undefined), { kernel: 'kernel8.img', initramfs: undefined });
  });

  it('resolves the Pi\'s serial0 alias to the machine\'s UART and keeps the rest of cmdline.txt', () => {
    const txt = 'console=serial0,115200 root=PARTUUID=ea6c18af-02 systemd.run=/boot/firstrun.sh\n';
    assert.equal(kernelCommandLine(txt, 'arm64'), 'console=ttyAMA0,115200 root=PARTUUID=ea6c18af-02 systemd.run=/boot/firstrun.sh');
    assert.equal(kernelCommandLine(txt, 'amd64'), 'console=ttyS0,115200 root=PARTUUID=ea6c18af-02 systemd.run=/boot/firstrun.sh');
  });

  it('puts the board on -no-reboot, held CPUs, its disk, TAP NICs with their MACs and two QMP monitors', () => {
    const m: QemuMachineResource = { name: 'b1', arch: 'arm64', memoryMiB: 512, cpus: 1, disk: '/d/b1.disk', nics: [{ tap: 'srvm-t1', mac: '52:54:00:00:00:01' }], serialPath: '/d/tty', qmpPath: '/d/qmp', stateDir: '/d/s' };
    const argv = qemuArgv(m, { kernel: '/d/s/boot/kernel', initrd: '/d/s/boot/initrd', cmdline: 'console=ttyAMA0' }, 'tcg');
    const text = argv.join(' ');
    assert.equal(argv[0], 'qemu-system-aarch64');
    for (const part of ['-accel tcg,tb-size=128', '-machine virt', '-cpu cortex-a72', '-no-reboot', '-S', '-kernel /d/s/boot/kernel', '-initrd /d/s/boot/initrd', '-append console=ttyAMA0',
      'file=/d/b1.disk,format=raw', 'tap,id=net0,ifname=srvm-t1,script=no', 'virtio-net-pci,netdev=net0,mac=52:54:00:00:00:01', 'unix:/d/qmp,server=on', 'unix:/d/s/firmware-qmp.sock,server=on']) {
      assert.ok(text.includes(part), `${part} in ${text}`);
    }
  });

  it('turns the kernel\'s speculation mitigations off under TCG alone, which executes nothing speculatively', () => {
    const m: QemuMachineResource = { name: 'b1', arch: 'arm64', memoryMiB: 512, cpus: 1, disk: '/d/b1.disk', nics: [], serialPath: '/d/tty', qmpPath: '/d/qmp', stateDir: '/d/s' };
    const append = (machine: QemuMachineResource, accel: 'tcg' | 'kvm') => {
      const argv = qemuArgv(machine, { kernel: 'k', initrd: undefined, cmdline: 'console=ttyAMA0 root=/dev/vda2' }, accel);
      return argv[argv.indexOf('-append') + 1];
    };
    assert.equal(append(m, 'tcg'), 'console=ttyAMA0 root=/dev/vda2 mitigations=off kpti=0');
    assert.equal(append({ ...m, arch: 'amd64' }, 'tcg'), 'console=ttyAMA0 root=/dev/vda2 mitigations=off');
    assert.equal(append({ ...m, arch: 'amd64' }, 'kvm'), 'console=ttyAMA0 root=/dev/vda2');
  });

  it('takes the host keys of the last boot from the console text', () => {
    const key = (n: number) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${n}x root@b1`;
    const lines = [HOST_KEYS_BEGIN, key(1), HOST_KEYS_END, 'noise', `[  3.1] x ${HOST_KEYS_BEGIN}`, `  ${key(2)}`, HOST_KEYS_END, HOST_KEYS_BEGIN, key(3)];
    assert.deepEqual(hostKeysFromConsole(lines), [key(2)], 'an unfinished block does not count');
  });

  it('takes the host key when the kernel writes onto the same console line as a marker or the key', () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFyJxcKtOE/82Y+DLitqIZXA5KhL1g9FLTwPBX6u0EiC root@lon-origin';
    const lines = [HOST_KEYS_BEGIN, '[   78.535977] kvm: Nested Virtualization enabled', `${key}[   79.1] SVM: Virtual GIF supported`, `${HOST_KEYS_END}[   79.442941] SVM: Virtual GIF supported`];
    assert.deepEqual(hostKeysFromConsole(lines), [key]);
  });
});
