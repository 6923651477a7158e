import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { run } from '../src/host-command';
import { bootPartitionFromSfdisk, customiseBootPartition, findBootPartition } from '../src/drivers/flash/boot-partition';
import { dataConnection, dataConnectionPath, FIRST_RUN_HOOK, firstRunScript, MANAGEMENT_CONNECTION, managementConnection, withFirstRunHook, type FirstBootSettings } from '../src/drivers/flash/first-boot';
import { openImageSource } from '../src/drivers/flash/image-source';
import { writeImage } from '../src/drivers/flash/write-image';
import { Cleanup } from '../src/testing/cleanup';
import { attachLoop } from './support/loop-device';
import { buildPiImage, mtype, TEST_CMDLINE } from './support/pi-image';
import { makeTempDir, removeTempDir } from '../src/testing/temp-dir';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKx2w0vjz7TqY0b1Yw0p6m0oQq7pQnNn0Hm0tqZ0n4Uv synrace@lab';
const SETTINGS: FirstBootSettings = {
  hostname: 'edge-a1',
  user: 'synrace',
  authorizedKeys: [KEY, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther it's-mine"],
  management: { address: '10.77.0.11/24', gateway: '10.77.0.1', dns: ['10.77.0.1'] },
};

describe('flash: first-boot form (bookworm firstrun.sh)', () => {
  it('calls the OS helpers with shell-quoted values and writes the NetworkManager keyfile before its own cleanup', () => {
    const script = firstRunScript(SETTINGS);
    const lines = script.trimEnd().split('\n');
    assert.equal(lines[0], '#!/bin/sh');
    assert.ok(lines.includes("/usr/lib/raspberrypi-sys-mods/imager_custom set_hostname 'edge-a1'"));
    assert.ok(lines.includes(`/usr/lib/raspberrypi-sys-mods/imager_custom enable_ssh -k '${KEY}' 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther it'\\''s-mine'`));
    assert.ok(lines.includes("/usr/lib/userconf-pi/userconf 'synrace' ''"));
    assert.ok(lines.includes(`chmod 600 ${MANAGEMENT_CONNECTION}`));
    assert.deepEqual(lines.slice(-3), ['rm -f /boot/firstrun.sh', "sed -i 's| systemd.run.*||g' /boot/cmdline.txt", 'exit 0']);
  });

  it('is valid sh, and survives bookworm initramfs imager_fixup, which cuts it at the first `rm ...firstrun.sh` line', async () => {
    const script = firstRunScript(SETTINGS);
    await run(['sh', '-n', '-c', script]);
    // The exact sed imager_fixup runs on /boot/firmware/firstrun.sh (raspberrypi-sys-mods).
    const { stdout: fixed } = await run(['sed', '-n', '/rm.*firstrun\\.sh$/q;p'], { input: script });
    assert.equal(fixed, script.slice(0, script.indexOf('rm -f /boot/firstrun.sh')), 'nothing but the cleanup is cut');
    assert.match(fixed, /set_hostname 'edge-a1'/);
    assert.match(fixed, /address1=10\.77\.0\.11\/24,10\.77\.0\.1/);
  });

  it('describes the static management address as a NetworkManager keyfile', () => {
    const keyfile = managementConnection({ address: '192.168.50.2/24' }, '0d1f6a3e-5c55-4d7e-9f40-3c3a4e8b2a11');
    assert.equal(
      keyfile,
      [
        '[connection]', 'id=synrace-management', 'uuid=0d1f6a3e-5c55-4d7e-9f40-3c3a4e8b2a11', 'type=ethernet', 'interface-name=eth0', 'autoconnect=true', '',
        '[ethernet]', '', '[ipv4]', 'method=manual', 'address1=192.168.50.2/24', '', '[ipv6]', 'method=disabled', '',
      ].join('\n'),
    );
    assert.match(managementConnection({ interface: 'end0', address: '10.0.0.2/8', dns: ['1.1.1.1', '9.9.9.9'] }), /interface-name=end0\n[\s\S]*dns=1\.1\.1\.1;9\.9\.9\.9;\n/);
  });

  it("writes a lab board's data NICs (address, default route or site routes, no offloads), forwarding, a console password and root's keys before its cleanup", async () => {
    const lab: FirstBootSettings = {
      ...SETTINGS,
      passwordHash: '$6$salt$hashhashhash',
      dataInterfaces: [
        { interface: 'eth1', address: '10.31.0.1/24' },
        { interface: 'eth2', address: '10.253.0.11/24', routes: [{ to: '10.32.0.0/24', via: '10.253.0.12' }] },
      ],
      forwarding: true,
      rootLogin: true,
    };
    const script = firstRunScript(lab);
    const { stdout: kept } = await run(['sed', '-n', '/rm.*firstrun\\.sh$/q;p'], { input: script });
    assert.ok(kept.includes("/usr/lib/userconf-pi/userconf 'synrace' '$6$salt$hashhashhash'"));
    assert.ok(kept.includes(`chmod 600 ${dataConnectionPath('eth2')}`));
    assert.ok(kept.includes('echo net.ipv4.ip_forward=1 >/etc/sysctl.d/90-synrace-forwarding.conf'));
    assert.ok(kept.includes('touch /var/lib/systemd/linger/root'), 'root lingers');
    assert.match(kept, /cat >\/root\/\.ssh\/authorized_keys <<'SYNRACE_EOF'\nssh-ed25519 \S+ synrace@lab\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther it's-mine\nSYNRACE_EOF\nchmod 600 \/root\/\.ssh\/authorized_keys/);
    const wan = dataConnection(lab.dataInterfaces![1], '0d1f6a3e-5c55-4d7e-9f40-3c3a4e8b2a11');
    assert.match(wan, /interface-name=eth2\n/);
    assert.match(wan, /\[ethtool\]\nfeature-gro=false\nfeature-gso=false\nfeature-tso=false\nfeature-tx=false\n/);
    assert.match(wan, /address1=10\.253\.0\.11\/24\nroute1=10\.32\.0\.0\/24,10\.253\.0\.12\n/);
    assert.match(dataConnection({ interface: 'eth1', address: '10.31.0.10/24', gateway: '10.31.0.1' }), /address1=10\.31\.0\.10\/24,10\.31\.0\.1\n/);
    assert.doesNotMatch(firstRunScript(SETTINGS), /sysctl\.d|\/root\/\.ssh|synrace-eth/, 'a Pi flashed from an inventory gets none of it');
  });

  it('appends the systemd.run hook once, keeping cmdline.txt one line', () => {
    const once = withFirstRunHook(TEST_CMDLINE);
    assert.equal(once, `${TEST_CMDLINE.trim()} ${FIRST_RUN_HOOK}\n`);
    assert.equal(withFirstRunHook(once), once);
    assert.equal(withFirstRunHook('a=1\r\nb=2 systemd.run=/boot/old.sh\n'), `a=1 b=2 ${FIRST_RUN_HOOK}\n`);
  });

  it('rejects settings the OS would reject later or that could escape the script', () => {
    const bad: Array<[Partial<FirstBootSettings>, RegExp]> = [
      [{ hostname: 'edge_a1' }, /hostname: "edge_a1" is not a valid host name/],
      [{ hostname: 'a$(reboot)' }, /hostname/],
      [{ user: 'Root' }, /user: "Root"/],
      [{ user: 'root' }, /user: "root"/],
      [{ authorizedKeys: [] }, /authorizedKeys: at least one key/],
      [{ authorizedKeys: [`${KEY}\nrm -rf /`] }, /authorizedKeys: not one OpenSSH public key line/],
      [{ management: { address: '10.0.0.300/24' } }, /management\.address/],
      [{ management: { address: '10.0.0.3' } }, /management\.address/],
      [{ management: { address: '10.0.0.3/24', gateway: 'router' } }, /management\.gateway/],
      [{ management: { address: '10.0.0.3/24', interface: 'eth0; reboot' } }, /management\.interface/],
      [{ passwordHash: 'secret' }, /passwordHash: not a crypt\(3\) hash/],
      [{ dataInterfaces: [{ interface: 'eth0', address: '10.1.0.1/24' }] }, /dataInterfaces\[0\]\.interface: "eth0" is not an interface name other than the management one/],
      [{ dataInterfaces: [{ interface: 'eth1', address: '10.1.0.1' }] }, /dataInterfaces\[0\]\.address/],
      [{ dataInterfaces: [{ interface: 'eth1', address: '10.1.0.1/24', routes: [{ to: 'default', via: '10.1.0.2' }] }] }, /dataInterfaces\[0\]\.routes/],
    ];
    for (const [override, message] of bad) assert.throws(() => firstRunScript({ ...SETTINGS, ...override }), message);
  });
});

describe('flash: boot partition customised without mounting', function () {
  this.timeout(60000);
  const cleanup = new Cleanup();
  let dir: string;
  let image: string;
  let bootOffset: number;

  before(async () => {
    dir = await makeTempDir('boot-partition');
    cleanup.add('remove temp dir', () => removeTempDir(dir));
    image = join(dir, 'board.img');
    ({ bootOffsetBytes: bootOffset } = await buildPiImage(image, { bootMiB: 40, rootMiB: 8 }));
  });

  after(() => cleanup.run());

  it('finds the FAT partition from sfdisk --json, by MBR or GPT type', async () => {
    assert.deepEqual(await findBootPartition(image), { target: image, offsetBytes: bootOffset, sizeBytes: 40 << 20 });
    const gpt = JSON.stringify({
      partitiontable: {
        label: 'gpt', sectorsize: 4096,
        partitions: [
          { node: 'x1', start: 10, size: 5, type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' },
          { node: 'x2', start: 256, size: 1024, type: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B' },
        ],
      },
    });
    assert.deepEqual(bootPartitionFromSfdisk('x', gpt), { target: 'x', offsetBytes: 256 * 4096, sizeBytes: 1024 * 4096 });
  });

  it('writes the image to a loop device, customises it there, and mtype reads the files back', async () => {
    const backing = join(dir, 'card.bin');
    await run(['truncate', '--size', '64M', backing]);
    const device = await attachLoop(backing, cleanup);
    await writeImage(await openImageSource(image), device);
    const files = await customiseBootPartition(device, SETTINGS);
    assert.deepEqual(files, ['firstrun.sh', 'cmdline.txt']);
    const script = await mtype(device, bootOffset, 'firstrun.sh');
    assert.equal(script.replace(/uuid=[0-9a-f-]{36}/, 'uuid=U'), firstRunScript(SETTINGS).replace(/uuid=[0-9a-f-]{36}/, 'uuid=U'));
    assert.equal(await mtype(device, bootOffset, 'cmdline.txt'), `${TEST_CMDLINE.trim()} ${FIRST_RUN_HOOK}\n`);
    assert.equal(await mtype(device, bootOffset, 'config.txt'), '[all]\narm_64bit=1\nenable_uart=1\n', 'other files are untouched');
    // mtools' edits leave a consistent FAT (fsck.vfat -n exits non-zero on any error).
    const fat = join(dir, 'fat.bin');
    await run(['dd', `if=${device}`, `of=${fat}`, 'bs=1M', 'skip=1', 'count=40', 'status=none']);
    assert.match((await run(['fsck.vfat', '-n', fat])).stdout, /: \d+ files, \d+\/\d+ clusters/);
  });

  it('customises an image file again without stacking hooks', async () => {
    const copy = join(dir, 'again.img');
    await run(['cp', image, copy]);
    await customiseBootPartition(copy, SETTINGS);
    await customiseBootPartition(copy, { ...SETTINGS, hostname: 'edge-b2' });
    assert.equal(await mtype(copy, bootOffset, 'cmdline.txt'), `${TEST_CMDLINE.trim()} ${FIRST_RUN_HOOK}\n`);
    assert.match(await mtype(copy, bootOffset, 'firstrun.sh'), /set_hostname 'edge-b2'/);
  });

  it('refuses an image without a FAT partition, and a FAT without cmdline.txt, naming the target', async () => {
    const noFat = join(dir, 'nofat.img');
    await run(['truncate', '--size', '8M', noFat]);
    await run(['sfdisk', '--quiet', noFat], { input: 'label: dos\nstart=2048, type=83\n' });
    await assert.rejects(customiseBootPartition(noFat, SETTINGS), new RegExp(`boot partition of ${noFat}: no FAT partition in its dos partition table`));
    const noCmdline = join(dir, 'nocmdline.img');
    await buildPiImage(noCmdline, { bootMiB: 40, rootMiB: 1, bootFiles: { 'config.txt': '' } });
    await assert.rejects(customiseBootPartition(noCmdline, SETTINGS), /has no cmdline.txt: not a Raspberry Pi OS boot partition/);
    const blank = join(dir, 'blank.img');
    await run(['truncate', '--size', '1M', blank]);
    await assert.rejects(customiseBootPartition(blank, SETTINGS), new RegExp(`boot partition of ${blank}: no partition table`));
  });
});
