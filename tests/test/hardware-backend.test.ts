import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { boardsWithRole, interfaceOn, loadTopology, predict, raceSettings, shippedInventoryPath, shippedProfilePath, shippedTopologyPath, loadProfile } from '@synrace/netem-profiles';
import { connectionOk, labRunDir, REPO_ROOT, type SiteVerdict } from '@synrace/orchestrator';
import { buildShelf, destroyShelf, PI4_CHIPS, runWithFakeGpio, SHELF_LAB, SSHD_BROKEN_FLAG, type FakeGpioRun, type Shelf } from '@synrace/stand-ins';
import { runCli } from '../src/cli';
import { describeOwnLabs } from '../src/lab-fixture';
import { worldWithWinnerCache } from '../src/race-topology';
import type { ScenarioInput, ScenarioOutput, ScenarioStep, StepOutcome } from '../src/shelf-scenario';

const ARTIFACTS = join(REPO_ROOT, 'artifacts');
const SCENARIO_JS = join(__dirname, '..', 'src', 'shelf-scenario.js');
/** The hardware lab the scenario brings up on the shelf; the shelf is a lab of its own beside it. */
const LAB = 'shelf-world';
const world = loadTopology(shippedTopologyPath('world'));
const wanBoards = world.boards.filter((b) => interfaceOn(b, 'wan')).map((b) => b.name);

/**
 * The step timeout of the up that must fail: every stand-in must boot within it. They boot in 10-14 s when
 * the host is quiet; with two other lanes on a slower day (CI68) one took longer than 15 s.
 */
const FAILED_UP_STEP_S = 30;

/** The scenario, in order. */
const STEPS = ['interruptedUp', 'breakSsh', 'failedUp', 'mendSsh', 'up', 'status', 'netemApply', 'verify', 'test', 'unit', 'cycle', 'unitsAfterCycle', 'doctor', 'down'] as const;
type StepName = (typeof STEPS)[number];

// One run of the real CLI against a shelf of stand-in Pis, inside a mount namespace whose
// /sys/class/gpio is a fake that the relay board's wiring follows. The tests read its outcome.
describeOwnLabs('hardware backend on a shelf of stand-in Pis (relays, serial consoles, SSH, systemd units)', function () {
  this.timeout(900_000);
  let shelf: Shelf;
  let output: ScenarioOutput;
  const outcome = (name: StepName): StepOutcome => output.outcomes[STEPS.indexOf(name)];
  const switchesDuring = (o: StepOutcome) => output.switches.filter((s) => s.at >= o.startedAt && s.at <= o.endedAt + 2000);
  const lastSwitch = (board: string, before = Infinity) => output.switches.filter((s) => s.board === board && s.at <= before).at(-1);
  /**
   * Was the board left off when the next command began? The wiring sees a relay a moment after it switches, so an
   * opening seen up to a second later still counts; a closing after the start belongs to the next command.
   */
  const leftOff = (board: string, nextStartedAt: number) =>
    output.switches.filter((s) => s.board === board && (s.at < nextStartedAt || (!s.on && s.at < nextStartedAt + 1000))).at(-1)?.on === false;

  // Mocha runs no `after` hook on a signal: Ctrl-C stops the scenario's running command as Ctrl-C, has the scenario
  // take the hardware lab down while the relays are still wired, then removes the shelf.
  const interrupted = new AbortController();
  const onSignal = () => interrupted.abort();
  const stopIfInterrupted = async () => {
    if (!interrupted.signal.aborted) return;
    if (shelf) await destroyShelf(shelf);
    process.exit(130);
  };

  before(async function () {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    shelf = await buildShelf();
    await stopIfInterrupted();
    const brokenSsh = join(shelf.lab.runDir.boardDir('rogue'), SSHD_BROKEN_FLAG);
    const inventory = shelf.inventoryFile;
    // The world lab with the winner cache's deadline slack that suites running beside others need (its TTL as shipped).
    const up = ['up', '--name', LAB, '--backend', 'hardware', '--inventory', inventory, '--topology', worldWithWinnerCache(raceSettings(world).winnerCache.ttlMs)];
    // Options go before `--`: what follows it is the board's command line.
    const onLab = (command: string, ...args: string[]) => [command, '--lab', LAB, ...args];
    const steps: Record<StepName, ScenarioStep> = {
      interruptedUp: { interrupt: [...up, '--delay', 'external'], after: 'powered \\S+ \\(' },
      breakSsh: { touch: brokenSsh },
      // The rogue's broken sshd holds this up for the whole step timeout: long enough for 15 boards to boot here, no longer.
      failedUp: { cli: [...up, '--step-timeout', `${FAILED_UP_STEP_S}`] },
      mendSsh: { remove: brokenSsh },
      up: { cli: [...up, '--delay', 'external'] },
      status: { cli: onLab('status') },
      netemApply: { cli: onLab('netem', 'apply', 'world-satellite') },
      verify: { cli: onLab('verify', '--connections', '2', '--json') },
      test: { cli: onLab('test') },
      unit: { cli: onLab('exec', 'rep-fra', '--', 'systemctl is-enabled synrace-agent.service; cat /etc/systemd/system/synrace-agent.service') },
      cycle: { cli: onLab('power', 'rep-fra', 'cycle') },
      unitsAfterCycle: { cli: onLab('exec', 'rep-fra', '--', 'systemctl is-active synrace-agent.service synrace-web.service') },
      doctor: { cli: ['doctor', '--inventory', inventory, '--json'] },
      down: { cli: onLab('down', '--json') },
    };
    const input: ScenarioInput = { shelfLab: SHELF_LAB, relays: shelf.relays, steps: STEPS.map((name) => steps[name]), onInterrupt: onLab('down') };
    let run: FakeGpioRun;
    try {
      run = await runWithFakeGpio(PI4_CHIPS, 1, SCENARIO_JS, [JSON.stringify(input)], 850_000, interrupted.signal);
    } catch (err) {
      await stopIfInterrupted();
      throw err;
    }
    output = JSON.parse(run.stdout) as ScenarioOutput;
    // Every command's full output, for whoever reads a failure here.
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'hardware-scenario.json'), JSON.stringify(output, null, 2));
  });

  after(async function () {
    this.timeout(120_000);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // A scenario that died half-way leaves the hardware lab's state: `down` outside the fake GPIO
    // namespace cannot switch relays, but stops the console server and removes the run folder.
    if (labRunDir(LAB).exists()) await runCli(['down', '--lab', LAB]);
    if (shelf) await destroyShelf(shelf);
  });

  it('Ctrl-C during bring-up stops at once, powers every board off and leaves no lab', () => {
    const { code, stderr } = outcome('interruptedUp');
    assert.equal(code, 130, stderr);
    assert.match(stderr, /SIGINT: stopping at the next step and removing what was created/);
    assert.match(stderr, /up failed: interrupted by SIGINT; removing what was created/);
    const next = outcome('failedUp');
    for (const board of world.boards.map((b) => b.name)) assert.ok(leftOff(board, next.startedAt), `${board} left powered`);
  });

  it('refuses kernel-netem delays on boards whose kernel has no sch_netem, naming each of them', () => {
    const { code, stderr } = outcome('failedUp');
    assert.equal(code, 1);
    assert.match(stderr, /boards did not come up/);
    for (const board of wanBoards.filter((b) => b !== 'rogue')) {
      assert.match(stderr, new RegExp(`board ${board} stuck in state 'reachable': not provisioned within ${FAILED_UP_STEP_S * 1000} ms: its kernel has no sch_netem`), board);
    }
  });

  it('logs in over the serial console to show why a booted board is not reachable over SSH', () => {
    const { stderr } = outcome('failedUp');
    assert.match(stderr, new RegExp(`board rogue stuck in state 'booted': not reachable over SSH within ${FAILED_UP_STEP_S * 1000} ms`));
    const seen = stderr.slice(stderr.indexOf('seen over the serial console'));
    assert.match(seen, /\$ ip -br addr\n\s+lo\s+UNKNOWN[^\n]*\n(?:\s+\S+[^\n]*\n)*?\s+wan0(@\S+)?\s+UP\s+10\.255\.0\.66\/24/);
    assert.match(seen, /\$ ss -ltn 'sport = :22'\n\s+State\s+Recv-Q[^\n]*\n(?!\s+LISTEN)/);
  });

  it('a failed up powers every board off again', () => {
    const nextUp = outcome('up');
    for (const board of world.boards.map((b) => b.name)) assert.ok(leftOff(board, nextUp.startedAt), `${board} left powered`);
  });

  it('brings every board from off through powered, booted, reachable to provisioned', () => {
    const { code, stderr } = outcome('up');
    assert.equal(code, 0, stderr);
    for (const board of world.boards.map((b) => b.name)) {
      for (const to of ['powered', 'booted', 'reachable', 'provisioned']) assert.match(stderr, new RegExp(`${to} ${board} \\(\\d+/${world.boards.length}, `), `${board} -> ${to}`);
    }
    assert.match(stderr, /--delay external: measuring the RTT matrix against the profile/);
  });

  it('status reads every relay back as on', () => {
    const { code, stdout } = outcome('status');
    assert.equal(code, 0);
    const rows = stdout.split('\n').filter((l) => world.boards.some((b) => l.startsWith(b.name + ' ')));
    assert.equal(rows.length, world.boards.length);
    for (const row of rows) assert.match(row, /\bon\s*$/, row);
  });

  it('refuses to apply a delay profile to a WAN whose delays come from outside', () => {
    const { code, stderr } = outcome('netemApply');
    assert.equal(code, 1);
    assert.match(stderr, /brought up with --delay external: its delays come from the WAN between the boards, which synrace does not set/);
  });

  it('verify: every client site lands on the replica the predictor names, in both race modes', () => {
    const { code, stdout } = outcome('verify');
    const { verdicts, judged } = JSON.parse(stdout) as { verdicts: SiteVerdict[]; judged: { noiseMs: number; nearTies: string[] } };
    const predictions = predict(world, loadProfile(shippedProfilePath('world'), world));
    assert.equal(verdicts.length, predictions.length * 2);
    for (const v of verdicts) {
      const p = predictions.find((x) => x.clientSite === v.clientSite)!;
      assert.equal(v.predicted, v.mode === 'plain' ? p.winner : p.syncWinner, `${v.clientSite} ${v.mode}`);
    }
    // As everywhere: a wrong winner beyond the noise measured in the same run fails verify (its exit code); within
    // it, a connection may go either way, yet most must still go the predicted way.
    const shown = verdicts.map((v) => `${v.clientSite} ${v.mode}: predicted ${v.predicted}, got ${v.connections.map((c) => c.servedBy).join(' ')}`).join('\n');
    assert.equal(code, 0, `a miss beyond the run's noise of ${judged.noiseMs.toFixed(1)} ms:\n${shown}`);
    const all = verdicts.flatMap((v) => v.connections.map((c, i) => connectionOk(c, i, v)));
    assert.ok(all.filter(Boolean).length > all.length / 2, `${all.filter(Boolean).length} of ${all.length} connections on the predicted winner (near ties: ${judged.nearTies.join(', ')}):\n${shown}`);
  });

  it('passes the same end-to-end suites as the virtual lab (synrace test: lab and protocol)', () => {
    const { code, stdout, stderr } = outcome('test');
    const summary = /^(\d+) passed, (\d+) failed/m.exec(stdout);
    assert.ok(summary, `no TAP summary in:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`);
    assert.equal(Number(summary[2]), 0, stdout.split('\n').filter((l) => l.startsWith('not ok')).join('\n'));
    assert.ok(Number(summary[1]) >= 20, `only ${summary[1]} passed`);
    assert.equal(code, 0);
  });

  it('installs the agent as an enabled systemd unit with the board config, output on the console', () => {
    const { code, stdout } = outcome('unit');
    assert.equal(code, 0);
    assert.match(stdout, /^enabled\n/);
    assert.match(stdout, /^ExecStart=\S*node \/opt\/synrace\/agent\.js --config \/etc\/synrace\/agent\.json$/m);
    assert.match(stdout, /^StandardOutput=journal\+console$/m);
    assert.match(stdout, /^WantedBy=multi-user\.target$/m);
  });

  it('power cycle goes through the relay, and the board boots into its enabled units', () => {
    const cycle = outcome('cycle');
    assert.equal(cycle.code, 0, cycle.stderr);
    assert.deepEqual(switchesDuring(cycle).filter((s) => s.board === 'rep-fra').map((s) => s.on), [false, true]);
    assert.match(cycle.stderr, /rep-fra agent healthy/);
    assert.equal(outcome('unitsAfterCycle').stdout, 'active\n');
  });

  it('doctor finds every resource of the shelf: serial lines, relay lines on the Pi GPIO chip, SSH with pinned keys and Node', () => {
    const { code, stdout } = outcome('doctor');
    const findings = JSON.parse(stdout) as { board: string; resource: string; status: string; detail: string }[];
    assert.equal(findings.filter((f) => f.status === 'fail').length, 0, JSON.stringify(findings.filter((f) => f.status === 'fail')));
    for (const relay of shelf.relays) {
      const finding = findings.find((f) => f.resource === 'relay' && f.detail.includes(`is sysfs gpio${relay.gpio} `));
      assert.ok(finding, `no relay finding for gpio${relay.gpio}`);
    }
    assert.equal(findings.filter((f) => f.resource === 'ssh' && /host key as pinned, Node v2\d/.test(f.detail)).length, world.boards.length);
    // The stand-ins' serial lines are pty links, not /dev/serial/by-id paths: a warning, as on a shelf with ttyUSB names.
    assert.equal(findings.filter((f) => f.resource === 'serial' && f.status === 'warn').length, world.boards.length);
    assert.equal(code, 0);
  });

  it('down disables the units, opens every relay and keeps the console logs', () => {
    const { code, stdout } = outcome('down');
    assert.equal(code, 0);
    const down = JSON.parse(stdout) as { boards: number; problems: unknown[]; logs: string };
    assert.equal(down.boards, world.boards.length);
    assert.deepEqual(down.problems, []);
    for (const board of world.boards.map((b) => b.name)) assert.equal(lastSwitch(board)?.on, false, `${board} left powered`);
    for (const board of [...boardsWithRole(world, 'replica'), ...boardsWithRole(world, 'client-gateway')].map((b) => b.name)) {
      assert.ok(!existsSync(join(shelf.lab.runDir.boardDir(board), 'disk/upper/etc/systemd/system/multi-user.target.wants/synrace-agent.service')), `${board}: unit still enabled`);
    }
    const log = readFileSync(join(down.logs, 'rep-fra.log'), 'utf8');
    // This lab's log (the failed up kept its own): the up's cold boot, the power cycle's, and the agent's unit on the console.
    assert.ok((log.match(/\| \[ +0\.000000\] Booting Linux on physical CPU/g)?.length ?? 0) >= 2, 'fewer than two boots on the console');
    assert.match(log, /rep-fra \| synrace-agent\[rep-fra\]: replica ready: configuration A/);
    assert.ok(!labRunDir(LAB).exists(), 'the lab state is still there');
  });
});

describeOwnLabs('hardware backend: bad input switches nothing', function () {
  this.timeout(60_000);
  const example = shippedInventoryPath('example-world');

  const refused = async (args: string[], message: RegExp) => {
    const { code, stderr } = await runCli(['up', ...args]);
    assert.equal(code, 1, stderr);
    assert.match(stderr, message);
    assert.ok(!labRunDir('world').exists(), 'a lab state was written');
  };

  it('needs an inventory, and an inventory needs the hardware backend', async () => {
    await refused(['--backend', 'hardware'], /the hardware backend needs --inventory <file>/);
    await refused(['--inventory', example], /--inventory is for the hardware backend: add --backend hardware/);
  });

  it('refuses the userspace delay line on hardware', async () => {
    await refused(['--backend', 'hardware', '--inventory', example, '--delay', 'userspace'], /--delay userspace is the namespace lab's delay line/);
  });

  it('refuses a shelf that does not cover the topology, before any relay clicks', async () => {
    await refused(['--backend', 'hardware', '--inventory', example], /has no physical board for sao-host, sao-gw, .*: every board of topology world must be played by one/);
  });
});
