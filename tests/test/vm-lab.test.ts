import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from 'ssh2';
import { buildBoardImage, ConsoleSession } from '@synrace/hardware';
import { interfaceOn, predict, shippedInventoryPath, shippedTopologyPath } from '@synrace/netem-profiles';
import { calibratedProfile, candidateBoards, connectionOk, describeCalibration, DOWNLOAD_PATH, originAddress, ProvisionError, provisionBoard, renderVerdicts, withinTolerance, type RttSample } from '@synrace/orchestrator';
import { runCli } from '../src/cli';
import { describeOwnLabs, leftoversOf, useLab } from '../src/lab-fixture';

const LAB = 'e2e-vm';
/** Five QEMU boards under TCG on two cores, each booting three times for its first boot (about 7 min here). */
const UP_TIMEOUT_MS = 45 * 60_000;

/** Polls `read` every 200 ms until it gives a value. */
async function waitFor<T>(read: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`nothing after ${timeoutMs} ms`);
    await delay(200);
  }
}

/** Whether SSH accepts `password` for `user` on the board: it must not, as first boot leaves SSH key-only. */
function sshAcceptsPassword(host: string, user: string, password: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.on('ready', () => {
      client.end();
      resolve(true);
    });
    client.on('error', (err: Error & { level?: string }) => (err.level === 'client-authentication' ? resolve(false) : reject(err)));
    client.connect({ host, port: 22, username: user, password, tryKeyboard: true, readyTimeout: 60_000, hostVerifier: () => true });
  });
}

// The issue-13 lab: the shipped `atlantic` topology (one client site with host and gateway, the origin with its
// switch, two replicas, one of them arm64) brought up as QEMU boards from the flashed board image, delays by
// kernel netem in the guests. Its plain race picks the origin, its synchronized race Ashburn.
describeOwnLabs('VM lab: QEMU boards flashed from the board image, real kernels with netem, systemd, QMP power (atlantic, one arm64 board)', function () {
  this.timeout(20 * 60_000);
  const lab = useLab({ name: LAB, backend: 'vm', topology: 'atlantic', profile: 'atlantic', raceMode: 'synchronized' }, UP_TIMEOUT_MS);
  const boards = () => lab().state().boards;
  const exec = async (board: string, command: string, timeoutMs = 60_000): Promise<string> => {
    const { code, stdout, stderr } = await lab().exec(board, command, timeoutMs);
    assert.equal(code, 0, `${board}: \`${command}\` exited ${code}: ${stderr}`);
    return stdout;
  };

  it('boots each board from its flashed disk: the real kernel on the serial line, three boots of first boot, the login prompt with its hostname; logs are timestamped', async () => {
    for (const b of boards()) {
      const lines = await lab().consoleLog(b.name);
      const arch = b.vm!.machine.arch;
      assert.equal(lines.filter((l) => /Linux version 6\.\d+\.\d+/.test(l)).length, 3, `${b.name}: imager_fixup's boot, firstrun's, then the customised system`);
      assert.ok(lines.some((l) => new RegExp(`Linux version 6\\.\\d+\\.\\d+.*${arch}`).test(l)), `${b.name}: the ${arch} kernel's banner`);
      const prompt = lines.find((l) => / login: ?$/.test(l));
      assert.ok(prompt?.endsWith(`| ${b.name} login: `) || prompt?.endsWith(`| ${b.name} login:`), `${b.name}: getty's prompt with the board's own hostname: ${prompt}`);
      assert.match(prompt!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /, `${b.name}: log lines start with their timestamp`);
    }
  });

  it('first boot made each board itself: its hostname and arch, SSH by key only, and the host key pinned from the console is the one sshd serves', async () => {
    for (const b of boards()) {
      const [hostname, machine, passwordAuth, hostKey] = (await exec(b.name, 'hostname; uname -m; sshd -T | grep -i "^passwordauthentication"; cat /etc/ssh/ssh_host_ed25519_key.pub')).trim().split('\n');
      assert.equal(hostname, b.name);
      assert.equal(machine, b.vm!.machine.arch === 'arm64' ? 'aarch64' : 'x86_64');
      assert.equal(passwordAuth.toLowerCase(), 'passwordauthentication no');
      assert.equal(hostKey.split(' ').slice(0, 2).join(' '), b.hostKey.split(' ').slice(0, 2).join(' '), `${b.name}: the pinned key is sshd's`);
    }
    const host = boards()[0];
    assert.equal(await sshAcceptsPassword(host.mgmtAddress, host.vm!.console.user, host.vm!.console.password), false, 'SSH refuses the console password');
  });

  it('logs in on the serial console with the password its flash set, as `synrace console` does', async () => {
    const b = boards().find((x) => x.vm!.machine.arch === 'arm64')!;
    const session = await ConsoleSession.open(lab().consoleSocket(b.name), { board: b.name });
    try {
      await session.login(b.vm!.console, 120_000);
      const { code, output } = await session.run('hostname; tty', 60_000);
      assert.equal(code, 0);
      assert.deepEqual(output.trim().split('\n'), [b.name, '/dev/ttyAMA0']);
      await session.logout();
    } finally {
      session.close();
    }
  });

  it('runs every agent under real systemd: its unit active since boot, its output in the journal', async () => {
    for (const b of lab().agentBoards()) {
      const [active, enabled] = (await exec(b.name, 'systemctl is-active synrace-agent; systemctl is-enabled synrace-agent')).trim().split('\n');
      assert.deepEqual([active, enabled], ['active', 'enabled'], b.name);
      assert.match(await exec(b.name, 'journalctl -b -u synrace-agent --no-pager -o cat'), /control API on /, `${b.name}: the agent's start in the journal`);
    }
  });

  it('refuses to provision a board whose architecture the bundle has no koffi build for, before anything is copied', async () => {
    // A real board that reports another machine: `uname -m` answers riscv64 through a wrapper first in root's PATH.
    const board = 'nyc-host';
    const wrapper = '/usr/local/bin/uname';
    const fsRoot = '/tmp/synrace-provision-arch-test';
    const reported = await exec(board, `printf '%s\\n' '#!/bin/sh' '[ "$1" = -m ] && { echo riscv64; exit 0; }' 'exec /bin/uname "$@"' > ${wrapper} && chmod 755 ${wrapper} && uname -m`);
    try {
      assert.equal(reported.trim(), 'riscv64', 'the wrapper answers first in PATH');
      await assert.rejects(
        () => lab().withShell(board, (shell) => provisionBoard({ board, shell, fsRoot, init: { kind: 'systemd' }, agentConfig: { board, roles: {} } })),
        (err: Error) => err instanceof ProvisionError && /failed at step "check the board": the agent has no koffi build for a riscv64 board \(it has: x86_64, aarch64/.test(err.message),
      );
      assert.equal((await exec(board, `test -e ${fsRoot} && echo copied || echo nothing`)).trim(), 'nothing');
    } finally {
      await exec(board, `rm -f ${wrapper}`);
    }
    assert.equal((await exec(board, 'uname -m')).trim(), 'x86_64');
  });

  it("brackets the profile's round trips with the measured ones once the netem is calibrated for what the emulated boards add", async () => {
    // Under TCG each guest a packet crosses costs it about a millisecond at the least (five crossings on a path from
    // the client host): `up` measured that floor per path and set the netem delays that much shorter. What five
    // guests on two cores add on top of it comes and goes with the host's scheduling. So every path's fastest round
    // trip must be no slower than the profile allows (the emulated hops' floor is gone), and its median no faster
    // (the geography is all there); how many medians meet max(1 ms, 5%) is printed (docs/decisions.md). A path off
    // the profile is measured again, up to five times over some 15 s, keeping its fastest round trip of all rounds:
    // a stop's CI saw a 10 ms path's floor 2.7 ms over it through three rounds within 4 s.
    const calibration = lab().state().delay.calibration;
    assert.ok(calibration, 'up calibrated the kernel netem delays');
    const samples = await lab().measureRttSettled(20, 5);
    assert.equal(samples.length, lab().inputs().profile.paths.filter((p) => p.from === 'newyork').length);
    const shown = samples.map((s) => `${s.from}->${s.to} floor ${s.minMs?.toFixed(2)} median ${s.medianMs?.toFixed(2)} ms (profile ${s.expectedMs})`).join(', ');
    console.log(`      RTT: ${shown}; medians within max(1 ms, 5%): ${samples.filter(withinTolerance).length} of ${samples.length}; ${describeCalibration(calibration)}`);
    const tolerance = (s: RttSample) => Math.max(1, 0.05 * s.expectedMs);
    assert.ok(samples.every((s) => s.minMs !== null && s.minMs <= s.expectedMs + tolerance(s)), `a path whose fastest round trip is slower than the profile allows: ${shown}`);
    assert.ok(samples.every((s) => s.medianMs !== null && s.medianMs >= s.expectedMs - tolerance(s)), `a path whose median is faster than the profile allows: ${shown}`);
  });

  it("puts the profile's netem on every WAN NIC, as the guest's own tc shows it", async () => {
    const { topology, profile: authored } = lab().inputs();
    const profile = calibratedProfile(authored, lab().state().delay.calibration);
    assert.ok(profile.paths.every((p, i) => p.delayMs <= authored.paths[i].delayMs && p.delayMs >= authored.paths[i].delayMs - 5), 'each calibrated delay is the profile\'s, less at most 5 ms');
    for (const board of topology.boards.filter((b) => interfaceOn(b, 'wan'))) {
      const wan = interfaceOn(board, 'wan')!.name;
      const shown = await exec(board.name, `tc -s qdisc show dev ${wan}`);
      const delays = [...shown.matchAll(/qdisc netem \S+ parent \S+ .*?delay (\d+(?:\.\d+)?)ms/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
      const expected = profile.paths.filter((p) => p.from === board.site).map((p) => p.delayMs).sort((a, b) => a - b);
      assert.deepEqual([...new Set(delays)], [...new Set(expected)], `${board.name} ${wan}:\n${shown}`);
      assert.match(shown, /Sent \d+ bytes [1-9]\d* pkt/, `${board.name}: the tree carries traffic`);
    }
  });

  for (const configuration of ['A', 'B', 'C'] as const) {
    it(`configuration ${configuration}: the client site lands on the predicted winner in the plain and synchronized race`, async () => {
      if (lab().state().protocol!.configuration !== configuration) await lab().reconfigure(configuration);
      // An agent's first packets on an emulated CPU run through Node's JIT as it compiles, tens of milliseconds
      // each: one round per mode warms every agent up before the judged one (it is not judged).
      await lab().verify(['plain', 'synchronized'], 1);
      const { verdicts, judged } = await lab().verify(['plain', 'synchronized'], 3);
      assert.deepEqual(judged.misses, [], renderVerdicts(verdicts));
      // Most of three per mode, as after the power cut below: one emulated board's stall can outlast a 45 ms margin
      // (stop 29's CI: a synchronized race in B took the origin, its median handshake 58 ms over the predictor's).
      const landed = verdicts.map((v) => v.connections.filter((c, i) => connectionOk(c, i, v)).length);
      assert.ok(landed.every((n, i) => n > verdicts[i].connections.length / 2), `most connections of each mode land on its predicted winner:\n${renderVerdicts(verdicts)}`);
      assert.deepEqual(verdicts.map((v) => v.predicted), ['lon-origin', 'rep-iad'], 'the plain race picks the origin, the synchronized race Ashburn');
    });
  }

  it("a QMP power cut of the winner in the middle of a download fails the client; power on boots it again, systemd starts its agent, and the race lands on it again", async () => {
    const { topology, profile } = lab().inputs();
    const [site] = predict(topology, profile);
    const winner = site.syncWinner;
    const winnerAddress = [...candidateBoards(topology)].find(([, board]) => board === winner)![0];
    const url = `http://${originAddress(topology)}${DOWNLOAD_PATH}`;
    // 10 MiB at 1 MiB/s; curl gives up once the server has been silent for 5 s.
    const startDownload = () => lab().exec(site.hostBoard, `curl -s -o /dev/null --limit-rate 1M --speed-limit 1000 --speed-time 5 -w '%{http_code} %{size_download}' ${url}`, 120_000);
    // Provisioning's files are written again just before the cut, as a farm's last change can be: the board must
    // come back with them (ext4 writes a new file's blocks up to 30 s late: in one CI run the board came back with
    // its units empty, which systemd reads as masked).
    await lab().reconfigure(lab().state().protocol!.configuration);
    await lab().verify(['synchronized'], 1); // the restarted agents' JIT warm-up, as above
    // The cut must come once the download runs on the winner: an SSH exec on an emulated CPU takes seconds to
    // start curl, and a race after the cut would rightly go elsewhere. The gateway's winner cache is emptied
    // first, so its first entry is the download's race. One race on emulated boards can go to the runner-up
    // (the races are judged above, three connections per mode against the lab's measured noise), so a download
    // whose race went elsewhere is let finish and tried again, up to three times: this test judges the cut.
    const gateway = lab().agent(site.gatewayBoard);
    let download: ReturnType<typeof startDownload>;
    for (let attempt = 1; ; attempt++) {
      await gateway.setWinnerCache(false);
      await gateway.setWinnerCache(true);
      download = startDownload();
      const raced = await waitFor(async () => (await gateway.winnerCache())?.entries[0], 60_000);
      if (raced.winner === winnerAddress) break;
      await download;
      assert.ok(attempt < 3, `three downloads' races went elsewhere, the last to ${raced.winner}, not the predicted ${winner} (${winnerAddress})`);
    }
    await delay(2000);
    await lab().power(winner, 'off');
    const { code, stdout } = await download;
    const [, bytes] = stdout.trim().split(' ');
    assert.notEqual(code, 0, `curl finished (${stdout}) although its server lost power`);
    assert.ok(Number(bytes) < 10 * 2 ** 20, `the download got ${bytes} bytes`);

    const poweredOn = Date.now();
    await lab().power(winner, 'on');
    const [active, uptime, journal] = (await exec(winner, 'systemctl is-active synrace-agent; cut -d" " -f1 /proc/uptime; journalctl -b -u synrace-agent --no-pager -o cat | grep -c "control API on"')).trim().split('\n');
    assert.equal(active, 'active');
    assert.ok(Number(uptime) * 1000 <= Date.now() - poweredOn, `up ${uptime} s: a cold boot since the power came back`);
    assert.equal(journal, '1', 'systemd started the agent once in this boot');
    assert.equal(JSON.parse(await exec(winner, 'cat /etc/synrace/agent.json')).board, winner, 'the agent config provisioning wrote survived the cut');
    await lab().verify(['synchronized'], 1); // the fresh agent's JIT warm-up, as above
    // Most of three, as a dead replica's return is judged on namespace boards: a guest that has just booted is
    // still starting units beside its agent, and in one run the first of three races after the boot took 270 ms,
    // lost to the origin, where the other two landed on the winner.
    const { verdicts } = await lab().verify(['synchronized'], 3);
    const servedBy = verdicts[0].connections.map((c) => c.servedBy);
    assert.equal(verdicts[0].predicted, winner);
    assert.ok(servedBy.filter((b) => b === winner).length >= 2, `back on, ${winner} wins most of three again:\n${renderVerdicts(verdicts)}`);
  });
});

describeOwnLabs('VM lab: what this host lacks, and bad input, are named before anything is made', function () {
  this.timeout(120_000);
  const lab = 'e2e-vm-refused';
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'synrace-vm-input-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const refused = async (args: string[], message: RegExp, env?: NodeJS.ProcessEnv) => {
    const { code, stderr } = await runCli(['up', '--backend', 'vm', '--name', lab, ...args], env);
    assert.equal(code, 1, stderr);
    assert.match(stderr, message);
    assert.deepEqual(await leftoversOf(lab), [], 'the host is clean of the lab');
  };
  /** A PATH of only these host programs, so the rest are missing. */
  const pathWith = (programs: string[]) => {
    const bin = mkdtempSync(join(dir, 'bin-'));
    for (const p of programs) symlinkSync(execFileSync('sh', ['-c', `command -v ${p}`], { encoding: 'utf8' }).trim(), join(bin, p));
    return { ...process.env, PATH: bin };
  };

  it("`synrace flash` writes a QEMU board's disk file from an inventory as it writes a card: verified, with the board's first boot", async () => {
    const key = join(dir, 'lab_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'lab', '-f', key]);
    const disk = join(dir, 'qemu-01.img');
    const inventory = join(dir, 'vm-shelf.yaml');
    writeFileSync(inventory, [
      'name: vm-shelf',
      'topology: atlantic',
      `defaults: { ssh: { user: synrace, port: 22, key: ${key} } }`,
      'boards:',
      '  - name: qemu-01',
      '    plays: nyc-host',
      '    serial: { path: /dev/null }',
      '    relay: { bcmPin: 17 }',
      `    ssh: { host: 10.247.9.10, hostKey: "${readFileSync(`${key}.pub`, 'utf8').trim()}" }`,
      `    disk: { file: ${disk} }`,
      '    management: { address: 10.247.9.10/24 }',
      '',
    ].join('\n'));
    const image = await buildBoardImage({ arch: 'amd64' });
    const { code, stdout, stderr } = await runCli(['flash', 'nyc-host', '--image', image.path, '--inventory', inventory]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, new RegExp(`nyc-host: wrote .* to ${disk}, \\d+ MB at [\\d.]+ MB/s, verified .*first boot: firstrun\\.sh, cmdline\\.txt`));
    const firstRun = execFileSync('mtype', ['-i', `${disk}@@${image.manifest.bootOffsetBytes}`, '::firstrun.sh'], { encoding: 'utf8' });
    assert.match(firstRun, /set_hostname 'nyc-host'/);
    assert.match(firstRun, /address1=10\.247\.9\.10\/24/);
  });

  it('takes only kernel netem as delays, and no inventory', async () => {
    await refused(['--delay', 'userspace'], /--delay userspace: VM boards have real kernels, whose netem makes the delays; use --delay auto/);
    await refused(['--inventory', shippedInventoryPath('example-world')], /--inventory is for the hardware backend/);
  });

  it("names an architecture it cannot emulate with the topology file and line", async () => {
    const topology = join(dir, 'atlantic-sparc.yaml');
    writeFileSync(topology, readFileSync(shippedTopologyPath('atlantic'), 'utf8').replace('arch: arm64', 'arch: sparc'));
    const line = readFileSync(topology, 'utf8').split('\n').findIndex((l) => l.includes('arch: sparc')) + 1;
    await refused(['--topology', topology, '--profile', 'atlantic'], new RegExp(`${topology.replace(/[.]/g, '\\.')}:${line}:.*arch.*(amd64.*arm64|one of)`));
  });

  it('names missing QEMU, with the package that has it', async () => {
    await refused([], /qemu-system-x86_64 is missing: apt-get install qemu-system-x86[\s\S]*qemu-system-aarch64 is missing: apt-get install qemu-system-arm/, pathWith(['ip', 'nsenter']));
  });

  it("names what building a missing board image needs, with each fix", async () => {
    const env = { ...pathWith(['qemu-system-x86_64', 'qemu-system-aarch64', 'socat', 'mcopy', 'ip', 'nsenter', 'openssl', 'sh', 'dpkg']), SYNRACE_IMAGE_CACHE: join(dir, 'empty-cache') };
    await refused([], /cannot build the amd64 board image here:[\s\S]*mmdebstrap is missing: apt-get install mmdebstrap/, env);
  });
});

