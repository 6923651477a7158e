import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { customiseBootPartition } from '../src/drivers/flash/boot-partition';
import { openImageSource } from '../src/drivers/flash/image-source';
import { verifyImage, VerifyMismatchError, writeImage } from '../src/drivers/flash/write-image';
import { generateKeyPair, type KeyPair } from '../src/drivers/sshd-config';
import type { ExecResult, SshShell } from '../src/drivers/ssh-shell';
import { run } from '../src/host-command';
import { buildBoardImage, type BoardImage } from '../src/image/build-image';
import type { BoardArch } from '../src/image/image-recipe';
import { Cleanup } from '../src/testing/cleanup';
import { consoleLines, logSize, makeBridge, makeWorkDir, pingAverageMs, processUsage, setUpBoard, sshWithConsoleKey, waitForLogin, type TestBoard } from './support/qemu-board';

const REPO_NODE_MODULES = join(__dirname, '..', '..', '..', 'node_modules');

// Real kernels under boards: each image is built (or taken from the machine's cache), flashed to a disk
// file with the flasher's writer and first-boot customisation, and booted by the board's firmware under
// QEMU (TCG: this host's KVM runs no guest). An amd64 board and an arm64 board (qemu-system-aarch64 -M
// virt, a Pi 4's Cortex-A72) boot at the same time, each on its own core, so the suite takes about as long
// as the slower of the two.
describe('QEMU boards: image -> flash -> first boot -> console -> SSH -> netem -> QMP power (amd64 and arm64 at once)', function () {
  this.timeout(2_400_000);
  const cleanup = new Cleanup();
  const onSignal = () => void cleanup.run().finally(() => process.exit(130));
  let dir: string;
  let key: KeyPair;
  const images = {} as Record<BoardArch, BoardImage>;
  const boards = {} as Record<BoardArch, TestBoard>;
  const shells: Partial<Record<BoardArch, SshShell>> = {};
  let amd64HostKey: string;
  let epollBuild: Promise<{ result: ExecResult; seconds: number }> | undefined;

  before(async () => {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    dir = await makeWorkDir('boards', cleanup);
    key = await generateKeyPair(join(dir, 'lab_key'), 'synrace-lab');
  });

  after(async () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await epollBuild?.catch(() => undefined);
    for (const shell of Object.values(shells)) await shell?.close();
    await cleanup.run();
  });

  const shell = (arch: BoardArch): SshShell => {
    const s = shells[arch];
    assert.ok(s, `no SSH session to the ${arch} board (an earlier step failed)`);
    return s;
  };

  it('builds both images, once per recipe: the second call finds them in the cache', async () => {
    const log = (arch: string) => (p: { phase: string; message: string; elapsedMs: number }) =>
      p.phase !== 'packages' && console.log(`      ${arch} [${(p.elapsedMs / 1000).toFixed(0)} s] ${p.phase}: ${p.message}`);
    const [amd64, arm64] = await Promise.all([buildBoardImage({ arch: 'amd64', onProgress: log('amd64') }), buildBoardImage({ arch: 'arm64', onProgress: log('arm64') })]);
    Object.assign(images, { amd64, arm64 });
    for (const image of [amd64, arm64]) {
      console.log(`      ${image.manifest.arch}: ${image.cached ? 'cached' : 'built'} in ${image.seconds.toFixed(1)} s (${image.path}, kernel ${image.manifest.kernelVersion})`);
      const again = await buildBoardImage({ arch: image.manifest.arch });
      assert.equal(again.cached, true);
      assert.equal(again.path, image.path);
      assert.ok(again.seconds < 5, `a cache hit took ${again.seconds} s`);
    }
    assert.match(arm64.manifest.kernelVersion, /arm64$/);
  });

  it('writes an image to a disk file with the flasher, whose read-back verify catches a changed byte', async () => {
    const disk = join(dir, 'tamper.disk');
    const source = await openImageSource(images.amd64.path);
    const written = await writeImage(source, disk);
    await verifyImage(source, disk, written);
    const offset = images.amd64.manifest.rootOffsetBytes + 4096 * 1000 + 17;
    const handle = await open(disk, 'r+');
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    await handle.write(Buffer.from([byte[0] ^ 0x5a]), 0, 1, offset);
    await handle.close();
    await assert.rejects(verifyImage(source, disk, written), (err: unknown) => err instanceof VerifyMismatchError && err.offset === offset);
    assert.deepEqual(
      await customiseBootPartition(disk, { hostname: 'tamper', user: 'synrace', authorizedKeys: [key.publicKey], management: { address: '10.0.0.2/24' } }),
      ['firstrun.sh', 'cmdline.txt'],
      'the image has the boot partition first-boot customisation expects',
    );
    await run(['rm', '-f', disk]);
  });

  it('flashes and boots both boards: kernel on the serial line, three boots of first boot, login prompt with the board\'s hostname, SSH with the host key from the console', async () => {
    const bridge = await makeBridge(cleanup);
    const spec = { amd64: { name: 'srvm-a1', address: `${bridge.subnet}.2`, memoryMiB: 512 }, arm64: { name: 'srvm-b1', address: `${bridge.subnet}.3`, memoryMiB: 768 } };
    for (const arch of ['amd64', 'arm64'] as const) {
      boards[arch] = await setUpBoard({ dir, arch, image: images[arch].path, publicKey: key.publicKey, privateKeyPath: key.privateKeyPath, bridge: bridge.name, cleanup, ...spec[arch],
        onFlashed: (s) => console.log(`      ${arch}: flashed its disk file in ${s.toFixed(1)} s`) });
    }
    await Promise.all((['amd64', 'arm64'] as const).map(async (arch) => {
      const board = boards[arch];
      const started = Date.now();
      const on = await board.machine.powerOn();
      console.log(`      ${arch}: powered on (${on.accel.accel}: ${on.accel.reason})`);
      await waitForLogin(board, 0, 1_500_000);
      const lines = await consoleLines(board);
      assert.ok(lines.some((l) => new RegExp(`Linux version 6\\.\\d+\\.\\d+.*${arch}`).test(l)), `${arch}: the kernel banner is in the console log`);
      assert.ok(lines.some((l) => /Run \/init as init process/.test(l)), `${arch}: the initramfs ran`);
      assert.ok(lines.some((l) => /Fixing firstrun\.sh/.test(l)), `${arch}: bookworm's imager_fixup moved the hook to /boot/firmware`);
      assert.ok(lines.some((l) => /Command from Kernel Command Line/.test(l)), `${arch}: firstrun.sh ran from the kernel command line`);
      assert.equal(lines.filter((l) => /Linux version/.test(l)).length, 3, `${arch}: imager_fixup reboot, firstrun reboot, then the customised system`);
      const ssh = await sshWithConsoleKey(board, 0, 180_000);
      shells[arch] = ssh.shell;
      if (arch === 'amd64') amd64HostKey = ssh.hostKey;
      console.log(`      ${arch}: power-on to SSH through first boot (3 boots): ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }));
  });

  it('arm64: uname -m is aarch64, Node >= 20 runs, netem delays show in ping, and an idle board costs little', async () => {
    const s = shell('arm64');
    const facts = await s.exec('uname -m; hostname; node -e "console.log(process.arch, process.versions.node)"', { timeoutMs: 120_000 });
    assert.equal(facts.code, 0, facts.stderr);
    const [machine, hostname, node] = facts.stdout.trim().split('\n');
    assert.equal(machine, 'aarch64');
    assert.equal(hostname, 'srvm-b1');
    const [nodeArch, version] = node.split(' ');
    assert.equal(nodeArch, 'arm64');
    assert.ok(Number(version.split('.')[0]) >= 20, version);
    await netemShowsInPing(s, boards.arm64.address, 80);
    await reportIdle('arm64', boards.arm64, 768);
  });

  it('arm64: starts compiling the agent\'s epoll on the board (checked at the end, while the amd64 board is tested)', async () => {
    const s = shell('arm64');
    // The bundle carries the sources of epoll and what it loads with (nan, bindings); the x86 build/ stays behind, as for a Pi provisioned from a PC.
    const tarball = join(dir, 'epoll-src.tgz');
    await run(['tar', '-czf', tarball, '-C', REPO_NODE_MODULES, '--exclude=epoll/build', 'epoll', 'nan', 'bindings', 'file-uri-to-path']);
    await s.upload(tarball, '/tmp/epoll-src.tgz');
    const started = Date.now();
    epollBuild = s
      .exec(
        [
          'set -e; mkdir -p /tmp/agent/node_modules && cd /tmp/agent/node_modules && tar -xzf /tmp/epoll-src.tgz && cd epoll',
          // As provisioning does it: npm's node-gyp and the board's own Node headers, nothing downloaded.
          'gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"',
          'nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"',
          'node "$gyp" rebuild --nodedir="$nodedir" > build.log 2>&1 || { tail -n 20 build.log; exit 1; }',
          'cd /tmp/agent && node -e "const { Epoll } = require(\'epoll\'); console.log(typeof Epoll)"',
        ].join('\n'),
        { timeoutMs: 1_200_000 },
      )
      .then((result) => ({ result, seconds: (Date.now() - started) / 1000 }));
  });

  it('amd64: the board flash made: hostname, renamed user, key-only SSH, firstrun gone, the console\'s host key is sshd\'s', async () => {
    const facts = await shell('amd64').exec('hostname; id -un; sudo -n sshd -T | grep -i "^passwordauthentication"; sudo -n passwd -S synrace | cut -d" " -f2; cat /boot/firmware/cmdline.txt; ls /boot/firmware; cat /etc/ssh/ssh_host_ed25519_key.pub', { timeoutMs: 60_000 });
    assert.equal(facts.code, 0, facts.stderr);
    const [hostname, user, passwordAuth, passwordState, cmdline, ...rest] = facts.stdout.trim().split('\n');
    assert.equal(hostname, 'srvm-a1');
    assert.equal(user, 'synrace');
    assert.equal(passwordAuth.toLowerCase(), 'passwordauthentication no');
    assert.equal(passwordState, 'L', 'the password stays locked: keys only');
    assert.doesNotMatch(cmdline, /systemd\.run/, 'firstrun removed its hook');
    assert.ok(!rest.includes('firstrun.sh'), 'firstrun removed itself');
    assert.equal(rest.at(-1)?.split(' ').slice(0, 2).join(' '), amd64HostKey.split(' ').slice(0, 2).join(' '), 'the console showed the key sshd serves');
  });

  it('amd64: sch_netem in the kernel: a netem delay on eth0 shows in ping; Node >= 20 with npm\'s node-gyp and headers; an idle board costs little', async () => {
    const s = shell('amd64');
    await netemShowsInPing(s, boards.amd64.address, 50);
    const node = await s.exec('node -p "process.versions.node" && ls /usr/local/include/node/node.h && test -f "$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js" && command -v make g++ python3', { timeoutMs: 60_000 });
    assert.equal(node.code, 0, node.stderr);
    assert.ok(Number(node.stdout.split('.')[0]) >= 20, node.stdout);
    await reportIdle('amd64', boards.amd64, 512);
  });

  it('amd64: QMP power off cuts the board (SSH dies), power on cold-boots it from the boot partition', async () => {
    const board = boards.amd64;
    const s = shell('amd64');
    const lost = new Promise<void>((resolve) => {
      const poll = setInterval(() => void s.exec('true', { timeoutMs: 2000 }).catch(() => (clearInterval(poll), resolve())), 200);
    });
    await board.power.off();
    assert.equal(await board.power.isOn(), false);
    await lost;
    await s.close();
    shells.amd64 = undefined;
    assert.equal(await tcpAnswers(board.address, 22), false, 'nothing answers on port 22 with the power off');
    assert.equal(await board.machine.qemuPid(), undefined, 'QEMU is gone');

    const since = await logSize(board);
    const started = Date.now();
    await board.power.on();
    assert.equal(await board.power.isOn(), true);
    await waitForLogin(board, since, 600_000);
    const again = await sshWithConsoleKey(board, since, 180_000);
    shells.amd64 = again.shell;
    const seconds = (Date.now() - started) / 1000;
    assert.equal(again.hostKey, amd64HostKey, 'the same host key: the flashed disk persisted');
    const uptime = Number((await again.shell.exec('cut -d" " -f1 /proc/uptime', { timeoutMs: 30_000 })).stdout);
    // Judged when the answer is in: an exec on a TCG guest beside other work can itself take over a second.
    const sincePowerOn = (Date.now() - started) / 1000;
    assert.ok(uptime < sincePowerOn + 1, `uptime ${uptime} s is this boot's (powered on ${sincePowerOn.toFixed(1)} s ago)`);
    assert.ok(existsSync(board.machine.resource.serialPath), 'the serial adapter stayed plugged in');
    console.log(`      amd64: cold boot (power on) to SSH: ${seconds.toFixed(1)} s`);
  });

  it('arm64: epoll compiled on the board, offline, with npm\'s node-gyp and Node\'s headers, and loads', async () => {
    assert.ok(epollBuild, 'the build was started');
    const { result, seconds } = await epollBuild;
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(result.stdout.trim().split('\n').at(-1), 'function');
    console.log(`      arm64: epoll compiled and loaded on the board in ${seconds.toFixed(0)} s`);
  });
});

async function netemShowsInPing(shell: SshShell, address: string, delayMs: number): Promise<void> {
  const before = await pingAverageMs(address);
  assert.ok(before !== undefined, `${address} answers ping`);
  const add = await shell.exec(`sudo -n tc qdisc add dev eth0 root netem delay ${delayMs}ms && sudo -n tc qdisc show dev eth0 && grep -c '^sch_netem ' /proc/modules`, { timeoutMs: 60_000 });
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, new RegExp(`netem .*delay ${delayMs}ms`));
  const after = await pingAverageMs(address);
  assert.ok(after !== undefined && after >= before + delayMs * 0.9 && after < before + delayMs + 40, `ping ${before} ms -> ${after} ms with netem delay ${delayMs}ms`);
  console.log(`      ${address}: ping ${before.toFixed(2)} ms -> ${after.toFixed(2)} ms with netem delay ${delayMs}ms`);
  assert.equal((await shell.exec('sudo -n tc qdisc del dev eth0 root', { timeoutMs: 60_000 })).code, 0);
}

async function reportIdle(arch: string, board: TestBoard, memoryMiB: number): Promise<void> {
  const pid = await board.machine.qemuPid();
  assert.ok(pid !== undefined);
  const usage = await processUsage(pid, 15);
  console.log(`      ${arch}: idle board ${usage.cpuPercent.toFixed(1)} % of a core, ${usage.rssMiB.toFixed(0)} MiB resident (${memoryMiB} MiB guest)`);
  assert.ok(usage.rssMiB < memoryMiB + 256, `QEMU holds ${usage.rssMiB} MiB`);
}

function tcpAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 3000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}
