import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForConsole } from '@synrace/hardware';
import { interfaceOn, loadProfile, predict, synchronizedHolds } from '@synrace/netem-profiles';
import { AGENT_BUNDLE_DIR } from '@synrace/agents';
import { BOOT_MARKER, extractOnBoard, Lab, missesBeyondNoise, Progress, judgedRttMs, resolveProfile, tarOf, withinTolerance } from '@synrace/orchestrator';
import { describeOwnLabs, leftoversOf, LIVE_LAB, skipBecause, useLab } from '../src';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe(`${LIVE_LAB ? 'the live lab' : 'namespace lab'}: the world lab`, function () {
  this.timeout(120_000);
  const lab = useLab({ name: 'e2e-world' });

  it('gives every client host the profile\'s round trip to every other site, within max(1 ms, 5%)', async () => {
    // A path is judged once the host is not busy bringing boards up: three rounds at most, a busy host only adds.
    const samples = await lab().measureRttSettled(20, 2);
    const clientSites = new Set(samples.map((s) => s.from));
    assert.ok(clientSites.size >= 3, `expected at least 3 client sites, measured from ${[...clientSites].join(', ')}`);
    const bad = samples.filter((s) => !withinTolerance(s));
    assert.deepEqual(bad.map((s) => `${s.from}->${s.to}: measured ${judgedRttMs(s)} ms (${s.statistic}), profile ${s.expectedMs} ms`), []);
    // An asymmetric profile would be invisible if the two directions were added the same way by mistake.
    assert.ok(samples.some((s) => s.expectedMs > 0 && s.medianMs !== null), 'no path measured');
  });

  it('answers exec over SSH with each board\'s own hostname', async () => {
    const names = lab().state().boards.map((b) => b.name);
    const answers = await Promise.all(names.map((n) => lab().exec(n, 'hostname')));
    assert.deepEqual(answers.map((a) => a.stdout.trim()), names);
  });

  it('runs commands on a board over one kept SSH connection, a second only beyond the sessions one carries, and replaces one the board ended', async () => {
    // sshd's established connections on the board, the one carrying this command included.
    const connections = async () => Number((await lab().exec('rep-fra', "ss -Htn state established '( sport = :22 )' | wc -l")).stdout);
    const before = await connections();
    for (let i = 0; i < 10; i++) await lab().exec('rep-fra', 'true');
    assert.equal(await connections(), before, 'ten commands in a row opened connections of their own');
    // The board ends this process's connection (its sshd session, the parent of the command's shell), and no one
    // else's: the next command gets a new connection and runs.
    const clientPort = async () => (await lab().exec('rep-fra', 'echo $SSH_CONNECTION')).stdout.split(' ')[1];
    const endedPort = await clientPort();
    await lab().exec('rep-fra', 'setsid -f sh -c "sleep 0.3; kill $PPID" >/dev/null 2>&1');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await lab().exec('rep-fra', 'hostname')).stdout.trim(), 'rep-fra');
    assert.notEqual(await clientPort(), endedPort, 'the command ran on the connection the board had ended');
    assert.equal(await connections(), before, 'the ended connection was replaced by one');
    const parallel = await Promise.all(Array.from({ length: 12 }, () => lab().exec('rep-fra', 'sleep 0.3; echo ok')));
    assert.deepEqual(parallel.map((r) => r.stdout.trim()), Array(12).fill('ok'));
    assert.ok((await connections()) <= before + 1, 'twelve commands at once need two connections at most');
  });

  it('lets a command-line run end as soon as its work is done, with its SSH connections kept open', async () => {
    const started = Date.now();
    const run = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(require.resolve('@synrace/orchestrator'))}).Lab.attach(${JSON.stringify(lab().name)}).exec('rep-fra', 'hostname').then((r) => process.stdout.write(r.stdout))`], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.signal, null, `still running after ${Date.now() - started} ms: an idle connection kept the process alive`);
    assert.equal(run.stdout.trim(), 'rep-fra', run.stderr);
  });

  it('round-trips an SFTP upload byte-identical', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const remote = `/tmp/synrace-sftp-${process.pid}.bin`;
    await lab().upload('rep-fra', data, remote);
    try {
      const { stdout } = await lab().exec('rep-fra', `sha256sum ${remote}`);
      assert.equal(stdout.split(' ')[0], sha256(data));
      assert.equal(sha256(await lab().download('rep-fra', remote)), sha256(data));
    } finally {
      await lab().exec('rep-fra', `rm -f ${remote}`);
    }
  });

  it('carries lines written on a board\'s console side to the orchestrator side, where logs shows them', async () => {
    const marker = `console-marker-${randomBytes(6).toString('hex')}`;
    await lab().exec('nyc-gw', `echo ${marker} > ${lab().boardConsole('nyc-gw')}`);
    const deadline = Date.now() + 5000;
    let lines: string[] = [];
    while (Date.now() < deadline && !lines.some((l) => l.includes(marker))) {
      await new Promise((r) => setTimeout(r, 50));
      lines = await lab().consoleLog('nyc-gw');
    }
    const hit = lines.find((l) => l.includes(marker));
    assert.ok(hit, `marker not in the console log; last lines:\n${lines.slice(-5).join('\n')}`);
    assert.match(hit!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /, 'console log lines carry a timestamp');
    assert.ok(!(await lab().consoleLog('tyo-gw')).some((l) => l.includes(marker)), 'a line reached another board\'s console');
  });

  it('shows the board\'s boot on its console, ending in the login marker', async () => {
    const log = lab().runDir.consoleLog('lon-switch');
    const lines = await lab().consoleLog('lon-switch');
    const bootLine = lab().state().backend === 'namespace' ? /synrace virtual board lon-switch .* booting/ : /Booting Linux/;
    assert.ok(lines.some((l) => bootLine.test(l)), lines.join('\n'));
    // As the bring-up reads it: a prompt that kernel messages cut in two still counts.
    assert.match(await waitForConsole(log, BOOT_MARKER, 1000, { since: 0 }), /lon-switch \| /);
  });

  it('stops answering when powered off and answers again when powered on', async () => {
    const pingFromHost = async () => (await lab().exec('dub-host', 'ping -c 2 -W 1 -i 0.2 10.255.0.33; echo rc=$?')).stdout;
    assert.match(await pingFromHost(), /rc=0/);
    await lab().power('rep-sin', 'off');
    assert.match(await pingFromHost(), /rc=1/);
    await assert.rejects(() => lab().exec('rep-sin', 'true'), /rep-sin|10\.250|ECONNREFUSED|EHOSTUNREACH|timed out/i);
    await lab().power('rep-sin', 'on');
    assert.match(await pingFromHost(), /rc=0/);
    assert.equal((await lab().exec('rep-sin', 'hostname')).stdout.trim(), 'rep-sin');
  });

  it('names a board that never becomes reachable and shows its last console lines', async function () {
    // The board's sshd pid file lies in the run directory of a namespace board.
    if (lab().state().backend !== 'namespace') skipBecause(this, 'it kills sshd through the pid file a namespace board keeps on this host');
    // sshd dies but the board stays powered: the board boots yet never answers, as a Pi with a broken image would.
    // The pid is the board's own (its PID namespace), so the board kills it; the session survives its listener.
    await lab().exec('rep-iad', `kill -9 $(cat ${lab().runDir.boardDir('rep-iad')}/sshd.pid)`);
    await assert.rejects(() => lab().waitReachable('rep-iad', 1500), (err: Error) => {
      assert.match(err.message, /board rep-iad did not become reachable over SSH within 1500 ms/);
      assert.match(err.message, /last console lines of rep-iad:[\s\S]*rep-iad login:/);
      return true;
    });
    await lab().power('rep-iad', 'cycle');
    assert.equal((await lab().exec('rep-iad', 'hostname')).stdout.trim(), 'rep-iad');
  });

  it('runs the agent bundle as it is on any architecture: its one native module is koffi, with a prebuilt binary per platform', async function () {
    const natives = (readdirSync(AGENT_BUNDLE_DIR, { recursive: true }) as string[]).filter((f) => f.endsWith('.node')).sort();
    // Anything compiled for this host would not load on a Pi provisioned from a PC.
    assert.deepEqual(natives, ['linux_arm64', 'linux_armhf', 'linux_x64'].map((p) => join('node_modules/koffi/build/koffi', p, 'koffi.node')));
    const remote = `/tmp/synrace-bundle-${process.pid}`;
    try {
      await lab().withShell('rep-fra', async (shell) => {
        await extractOnBoard(shell, remote, [await tarOf(AGENT_BUNDLE_DIR, '')]);
        const loaded = await shell.exec(`cd ${remote} && ${process.execPath} -e "process.stdout.write(typeof require('koffi').load)"`, { timeoutMs: 30_000 });
        assert.equal(loaded.stdout, 'function', loaded.stderr);
      });
    } finally {
      await lab().exec('rep-fra', `rm -rf ${remote}`);
    }
  });

  it('applies another delay profile to the live lab, direction by direction', async function () {
    if (LIVE_LAB) skipBecause(this, 'it changes the geography of the lab it runs on');
    const rttNycTokyo = async () => (await lab().measureRtt(10)).find((s) => s.from === 'newyork' && s.to === 'tokyo')!;
    const before = await rttNycTokyo();
    await lab().applyProfile('world-satellite');
    try {
      const after = await rttNycTokyo();
      // Only the downlink into tokyo moved to the satellite: the round trip grows by that one direction.
      assert.ok(withinTolerance(after), `measured ${after.medianMs} ms, profile ${after.expectedMs} ms`);
      assert.ok(after.expectedMs - before.expectedMs >= 200, `${before.expectedMs} -> ${after.expectedMs}`);
    } finally {
      await lab().applyProfile('world');
    }
  });

  it("keeps a geography applied live across a restart of the switch's agent: its config file gets the new holds", async function () {
    if (LIVE_LAB) skipBecause(this, 'it changes the geography of the lab it runs on');
    const { topology } = lab().inputs();
    const world = resolveProfile('world');
    // Frankfurt 10 ms further from London each way: the switch holds every other candidate 10 ms less.
    const dir = mkdtempSync(join(tmpdir(), 'synrace-holds-'));
    const farFrankfurt = join(dir, 'world-far-frankfurt.yaml');
    const text = readFileSync(world, 'utf8');
    assert.match(text, /between: \[london, frankfurt\],\s+delayMs: 7 \}/);
    writeFileSync(farFrankfurt, text.replace(/(between: \[london, frankfurt\],\s+delayMs: )7 \}/, (_, head: string) => `${head}17 }`));
    const holdsOf = (file: string) => synchronizedHolds(topology, loadProfile(file, topology)).map((h) => h.holdMs).sort((a, b) => a - b);
    const record = lab().state().boards.find((b) => b.name === 'lon-switch')!;
    const configFile = join(lab().backend().layout(record).fsRoot, 'etc/synrace/agent.json');
    const switchHolds = async () => {
      const config = JSON.parse((await lab().exec('lon-switch', `cat ${configFile}`)).stdout) as { roles: { 'server-switch': { holdMs: Record<string, number> } } };
      return Object.values(config.roles['server-switch'].holdMs).sort((a, b) => a - b);
    };
    assert.notDeepEqual(holdsOf(farFrankfurt), holdsOf(world));
    assert.deepEqual(await switchHolds(), holdsOf(world));
    try {
      await lab().applyProfile(farFrankfurt);
      assert.deepEqual(await switchHolds(), holdsOf(farFrankfurt), 'what the agent reads when its supervisor restarts it');
      assert.equal((await lab().exec('lon-switch', `stat -c %a ${configFile}`)).stdout.trim(), '600', 'the control token in it stays readable by root alone');
    } finally {
      await lab().applyProfile('world');
      rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(await switchHolds(), holdsOf(world));
  });

  it('puts the profile\'s tc tree on every WAN board over SSH, as on hardware (htb and u32; this kernel has no netem)', async () => {
    const { topology, profile } = lab().inputs();
    const wanOf = (board: string) => interfaceOn(topology.boards.find((b) => b.name === board)!, 'wan')!.name;
    await lab().applyTcTrees(profile, false);
    try {
      const classes = (await lab().exec('nyc-gw', `tc class show dev ${wanOf('nyc-gw')}`)).stdout.split('\n').filter((l) => l.startsWith('class htb'));
      assert.equal(classes.length, topology.sites.length, 'one class per other site, plus the unshaped default');
      const filters = (await lab().exec('nyc-gw', `tc filter show dev ${wanOf('nyc-gw')}`)).stdout;
      assert.match(filters, /match 0a0a0000\/ffffff00/, "a u32 filter for london's LAN 10.10.0.0/24");
      const samples = await lab().measureRttSettled(10, 2);
      assert.deepEqual(samples.filter((x) => !withinTolerance(x)).map((x) => `${x.from}->${x.to}`), [], 'classification alone changes no delay');
    } finally {
      // A lab delayed by netem gets its trees back; any other had none.
      if (lab().state().delay.mode === 'kernel-netem') await lab().applyTcTrees(profile);
      else await Promise.all(topology.boards.filter((b) => interfaceOn(b, 'wan')).map((b) => lab().exec(b.name, `tc qdisc del dev ${wanOf(b.name)} root 2>/dev/null; true`)));
    }
  });

  it('refuses a second `up` of a lab that is up, naming it', async function () {
    if (LIVE_LAB) skipBecause(this, 'it needs to know the name the lab was brought up with');
    await assert.rejects(() => Lab.up({ name: 'e2e-world' }, new Progress(true)), /lab e2e-world is already up .*synrace down --lab e2e-world.*--replace.*--name/);
  });

  it('lets each board see its own processes only, as a Pi does, with an init of its own as PID 1', async function () {
    if (lab().state().backend !== 'namespace') skipBecause(this, 'PID namespaces are how namespace boards get this; other boards are machines of their own');
    const ps = async (board: string) => (await lab().exec(board, 'ps -eo pid=,args=')).stdout.trim().split('\n').map((l) => l.trim());
    const rep = await ps('rep-sin');
    assert.match(rep[0], /^1 tini /, rep.join('\n'));
    assert.ok(rep.some((l) => /sshd/.test(l)) && rep.some((l) => /nginx/.test(l)) && rep.some((l) => /agent\.js/.test(l)), rep.join('\n'));
    assert.ok(rep.length < 30, `rep-sin lists ${rep.length} processes:\n${rep.join('\n')}`);
    assert.ok(!rep.some((l) => /rep-fra|lon-switch|nyc-gw/.test(l)), `rep-sin sees another board's processes:\n${rep.join('\n')}`);
    const before = await ps('rep-fra');
    await lab().power('rep-sin', 'off');
    try {
      await assert.rejects(() => lab().exec('rep-sin', 'true'));
      const after = await ps('rep-fra');
      // The SSH session that runs ps is new each time: only the board's own processes are compared.
      const own = (lines: string[]) => lines.filter((l) => !/ps -eo|sshd: root@/.test(l)).map((l) => l.split(' ')[0]);
      assert.deepEqual(own(after), own(before), 'powering rep-sin off touched rep-fra');
    } finally {
      await lab().power('rep-sin', 'on');
    }
  });

  it('brings an agent killed outright back within 2 s, the supervisor restarting it as systemd would', async function () {
    if (LIVE_LAB) skipBecause(this, 'it kills the agents of the lab it runs on');
    const agent = lab().agent('nyc-gw');
    const { pid } = await agent.health();
    await lab().exec('nyc-gw', `kill -9 ${pid}`);
    const killedAt = Date.now();
    const back = await agent.waitHealthy(5000);
    assert.notEqual(back.pid, pid, 'a new agent process answers');
    assert.ok(Date.now() - killedAt < 2000, `the agent was back after ${Date.now() - killedAt} ms`);
    assert.match((await lab().consoleLog('nyc-gw', 20)).join('\n'), /synrace-agent exited with 137; restarting/);
  });
});

describeOwnLabs('namespace labs side by side', function () {
  this.timeout(300_000);
  const world = useLab({ name: 'e2e-side-world' });

  it('runs a second lab beside the first: both verify, and down of one leaves the other verifying', async () => {
    const europe = await Lab.up({ name: 'e2e-side-europe', topology: 'europe', profile: 'europe' }, new Progress(true));
    try {
      assert.notEqual(europe.state().management!.subnet, world().state().management!.subnet);
      const [w, e] = await Promise.all([world().verify(['plain'], 2), europe.verify(['plain'], 2)]);
      // Near ties within the measured noise are not judged (verify's own rule). The two labs share the host and
      // verify at once, so each one's races see the noise either run measured (europe's two sites alone make a thin sample).
      const noiseMs = Math.max(w.judged.noiseMs, e.judged.noiseMs);
      const predictions = (lab: Lab) => predict(lab.inputs().topology, lab.inputs().profile);
      const misses = [...missesBeyondNoise(w.verdicts, predictions(world()), noiseMs), ...missesBeyondNoise(e.verdicts, predictions(europe), noiseMs)];
      assert.deepEqual(misses.map((v) => `${v.clientSite} ${v.mode}`), []);
    } finally {
      await europe.down();
    }
    assert.deepEqual(await leftoversOf('e2e-side-europe'), []);
    assert.ok((await leftoversOf('e2e-side-world')).length > 10, 'the other lab is still there');
    const again = await world().verify(['plain', 'synchronized'], 2);
    assert.deepEqual(again.judged.misses.map((v) => `${v.clientSite} ${v.mode}`), []);
  });
});

describeOwnLabs('namespace lab: down leaves nothing behind', function () {
  this.timeout(120_000);

  it('removes every namespace, link, bridge, process, mount, lock and temporary file of the lab', async () => {
    const lab = await Lab.up({ name: 'e2e-clean' }, new Progress(true));
    try {
      assert.ok((await leftoversOf('e2e-clean')).length > 10, 'a live lab should show up as leftovers');
      // `down` kills the delay line outright, so its engine's files must be where `down` removes them: the run folder.
      const processes = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((pid) => {
        try {
          const ppid = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1];
          return [{ pid, ppid, argv: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0') }];
        } catch {
          return []; // gone meanwhile
        }
      });
      const line = processes.find((p) => p.argv.includes(lab.runDir.path('wan', 'agent.json')));
      const engine = processes.find((p) => p.ppid === line?.pid && p.argv[0].endsWith('/wan-delay-engine'));
      assert.ok(engine, `the lab's delay line and its engine: ${JSON.stringify(line)}`);
      for (const file of engine.argv.slice(1, 3)) assert.ok(file.startsWith(`${lab.runDir.root}/`), `${file} is outside the lab's run folder ${lab.runDir.root}`);
    } finally {
      await lab.down();
    }
    assert.deepEqual(await leftoversOf('e2e-clean'), []);
  });
});
