import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { addressOf, boardsWithRole, detectNetem, interfaceOn, loadInventory, loadProfile, loadTopology, predict, type SitePrediction, shippedProfilePath, shippedTopologyPath, type DelayProfile, type Role, type Topology } from '@synrace/netem-profiles';
import { readConsoleLog, type BringUpTimeouts, type SshShell } from '@synrace/hardware';
import { boardOf, connectBoard, waitReachable } from './board-access';
import { powerDriverOf } from './board-power';
import { consoleSocketPath } from './console-server-process';
import { HARDWARE_TIMEOUTS, POWER_SETTLE_MS, hardwareLabDown, loadHardwareInputs, hardwareLabUp, shelfTopology } from './hardware-lab/hardware-lab';
import type { DelayMode, LabState } from './lab-state';
import { Progress } from './progress';
import type { Configuration, RaceMode } from './provision/agent-config';
import { agentControl, provisionLab } from './provision/provision-lab';
import { writeWebContent } from './provision/web-content';
import type { AgentControl } from './agent-control';
import { clientSites, measureRttFrom, withinTolerance, type RttSample } from './rtt';
import { RunDir } from './run-dir';
import { applyTcTrees } from './tc-trees';
import { startCapture, type RunningCapture } from './capture';
import { candidateBoards, verifySelection, type SiteVerdict } from './verify';
import { writeHtmlReport, type SiteRaces } from './report/html-report';
import { readRaceTimelines } from './report/race-timeline';
import { boardFsRoot, labDown, labUp, loadLabInputs } from './virtual/virtual-lab';
import { restartWanDelayLine } from './virtual/wan';

export const DEFAULT_TOPOLOGY = 'world';
export const DEFAULT_PROFILE = 'world';
/** Console logs of torn-down labs are kept here, newest runs only: nothing lost, nothing piling up. */
export const LOG_ARCHIVE = process.env.SYNRACE_LOG_ARCHIVE ?? '/var/log/synrace';
const ARCHIVES_KEPT = 10;
/** Roles whose boards run an agent, which boot restarts and power-on waits for. */
const AGENT_ROLES: Role[] = ['client-gateway', 'server-switch', 'replica'];

/** A name of a shipped lab or profile, or a path to a file of one. */
export function resolveTopology(nameOrPath: string): string {
  return existsSync(nameOrPath) ? nameOrPath : shippedTopologyPath(nameOrPath);
}

export function resolveProfile(nameOrPath: string): string {
  return existsSync(nameOrPath) ? nameOrPath : shippedProfilePath(nameOrPath);
}

export interface LabUpOptions {
  /** virtual (namespaces on this host, the default) or hardware (the boards of `inventory`). */
  backend?: 'virtual' | 'hardware';
  /** Hardware: the inventory file; the topology defaults to the one it names. */
  inventory?: string;
  topology?: string;
  profile?: string;
  replace?: boolean;
  /** userspace: virtual only; external: hardware only, a WAN that has the delays already. */
  delay?: 'auto' | 'userspace' | 'external';
  bootTimeoutMs?: number;
  /** Hardware: limits of the bring-up steps, by the state each leads to. */
  timeouts?: Partial<BringUpTimeouts>;
  signal?: AbortSignal;
  configuration?: Configuration;
  raceMode?: RaceMode;
}

export async function chooseDelayMode(requested: 'auto' | 'userspace'): Promise<{ mode: DelayMode; probe: string }> {
  const netem = await detectNetem();
  if (requested === 'userspace') return { mode: 'userspace-delay-line', probe: `userspace requested; kernel netem: ${netem.reason}` };
  return { mode: netem.available ? 'kernel-netem' : 'userspace-delay-line', probe: netem.reason };
}

export interface TeardownSummary {
  namespaces: number;
  processes: number;
  /** Hardware: boards released and powered off, and what could not be undone on which board. */
  boards?: number;
  problems?: { board: string; problem: string }[];
  logs?: string;
}

export class Lab {
  private constructor(readonly runDir: RunDir, readonly progress: Progress) {}

  static attach(runDir = new RunDir(), progress = new Progress()): Lab {
    return new Lab(runDir, progress);
  }

  /** Brings a lab up; on any failure (or a signal, see the CLI) whatever was created is removed again. */
  static async up(opts: LabUpOptions = {}, runDir = new RunDir(), progress = new Progress()): Promise<Lab> {
    const hardware = opts.backend === 'hardware';
    if (hardware && !opts.inventory) throw new Error('the hardware backend needs --inventory <file>: the boards, their relays, serial adapters and SSH keys');
    if (!hardware && opts.inventory) throw new Error('--inventory is for the hardware backend: add --backend hardware');
    const delayRequest = opts.delay ?? 'auto';
    if (hardware && delayRequest === 'userspace') throw new Error('--delay userspace is the virtual lab\'s delay line; on hardware use auto (kernel netem on the boards) or external');
    if (!hardware && delayRequest === 'external') throw new Error('--delay external is for hardware labs whose WAN has the delays already; the virtual lab takes auto or userspace');
    const topologyFile = resolveTopology(opts.topology ?? (hardware ? loadInventory(opts.inventory!).topology : DEFAULT_TOPOLOGY));
    const profileFile = resolveProfile(opts.profile ?? DEFAULT_PROFILE);
    // Bad input must leave nothing behind: everything is checked before anything is made or switched.
    const hardwareInputs = hardware ? loadHardwareInputs(opts.inventory!, topologyFile, profileFile) : undefined;
    if (!hardware) loadLabInputs(topologyFile, profileFile);
    const lab = new Lab(runDir, progress);
    if (runDir.exists()) {
      if (!opts.replace) {
        const since = runDir.readState<LabState>().startedAt;
        throw new Error(`a lab is already up (since ${since}, state in ${runDir.root}); run \`synrace down\` first or pass --replace`);
      }
      await lab.down();
    }
    const release = runDir.lock('up');
    const protocol = { configuration: opts.configuration ?? 'A', raceMode: opts.raceMode ?? 'plain', controlToken: randomBytes(24).toString('hex') } as const;
    try {
      if (hardwareInputs) {
        const delay = delayRequest === 'external' ? 'external' : 'auto';
        await hardwareLabUp(runDir, { inputs: hardwareInputs, inventoryFile: opts.inventory!, topologyFile, profileFile, delay, protocol, timeouts: opts.timeouts, signal: opts.signal }, progress);
        if (delay === 'external') await lab.checkExternalDelays();
      } else {
        const delay = await chooseDelayMode(delayRequest === 'userspace' ? 'userspace' : 'auto');
        const state = await labUp(runDir, { topologyFile, profileFile, delayMode: delay.mode, delayProbe: delay.probe, bootTimeoutMs: opts.bootTimeoutMs ?? 20_000, signal: opts.signal }, progress);
        state.protocol = protocol;
        runDir.writeState(state);
        const { topology, profile } = lab.inputs();
        if (delay.mode === 'kernel-netem') await lab.applyTcTrees(profile);
        const provisioning = { state, topology, profile, options: protocol, content: writeWebContent(runDir.path('content')) };
        await provisionLab({ ...provisioning, layoutOf: (board) => ({ fsRoot: boardFsRoot(runDir, board), init: { kind: 'boot-script', consoleTty: `${runDir.boardDir(board)}/ttyS0`, node: process.execPath } }) }, progress);
      }
      progress.step(`lab up in ${(progress.elapsedMs() / 1000).toFixed(2)} s`);
      return lab;
    } catch (err) {
      progress.step(`up failed: ${(err as Error).message.split('\n')[0].replace(/:$/, '')}; removing what was created`);
      await lab.teardown();
      throw err;
    } finally {
      release();
    }
  }

  /** A WAN that is said to have the delays already must show them: no lab on unchecked geography. */
  private async checkExternalDelays(): Promise<void> {
    this.progress.step('--delay external: measuring the RTT matrix against the profile');
    const off = (await this.measureRtt(3)).filter((s) => !withinTolerance(s));
    if (off.length) {
      throw new Error(`--delay external, but the WAN does not have the profile's delays: ${off.map((s) => `${s.from}->${s.to} ${s.medianMs === null ? 'lost' : `${s.medianMs.toFixed(1)} ms`} (profile ${s.expectedMs.toFixed(1)} ms)`).join(', ')}`);
    }
  }

  state(): LabState {
    return this.runDir.readState<LabState>();
  }

  /** The lab's topology (on hardware, with each board's real NIC names) and its delay profile. */
  inputs(): { topology: Topology; profile: DelayProfile } {
    const state = this.state();
    const topology = state.backend === 'hardware' ? shelfTopology(state) : loadTopology(state.topologyFile);
    return { topology, profile: loadProfile(state.profileFile, topology) };
  }

  async down(): Promise<TeardownSummary> {
    const release = this.runDir.lock('down');
    try {
      return await this.teardown();
    } finally {
      release();
    }
  }

  private async teardown(): Promise<TeardownSummary> {
    // A virtual `up` killed before its state was written leaves namespaces, found by name.
    const hardware = this.runDir.exists() && this.state().backend === 'hardware';
    const removed = hardware ? { namespaces: 0, ...(await hardwareLabDown(this.runDir, this.progress)) } : await labDown(this.runDir, this.progress);
    const logs = this.archiveLogs();
    this.runDir.remove();
    return { ...removed, logs };
  }

  private archiveLogs(): string | undefined {
    const logs = this.runDir.path('logs');
    if (!existsSync(logs) || readdirSync(logs).length === 0) return undefined;
    const startedAt = this.runDir.exists() ? this.state().startedAt : new Date().toISOString();
    mkdirSync(LOG_ARCHIVE, { recursive: true });
    const target = join(LOG_ARCHIVE, startedAt.replace(/[:.]/g, '-'));
    rmSync(target, { recursive: true, force: true });
    renameSync(logs, target);
    const old = readdirSync(LOG_ARCHIVE).sort().slice(0, -ARCHIVES_KEPT);
    old.forEach((d) => rmSync(join(LOG_ARCHIVE, d), { recursive: true, force: true }));
    this.progress.step(`console logs kept in ${target}`);
    return target;
  }

  /** Runs work with an SSH shell on the board, closed afterwards whatever happens. */
  async withShell<T>(board: string, work: (shell: SshShell) => Promise<T>): Promise<T> {
    const shell = await connectBoard(this.state(), board);
    try {
      return await work(shell);
    } finally {
      shell.close();
    }
  }

  exec(board: string, command: string, timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return this.withShell(board, (shell) => shell.exec(command, { timeoutMs }));
  }

  upload(board: string, data: Buffer, remotePath: string): Promise<void> {
    return this.withShell(board, (shell) => shell.upload(data, remotePath));
  }

  download(board: string, remotePath: string): Promise<Buffer> {
    return this.withShell(board, (shell) => shell.download(remotePath));
  }

  async power(board: string, action: 'on' | 'off' | 'cycle', bootTimeoutMs?: number): Promise<'on' | 'off'> {
    const release = this.runDir.lock(`power ${board} ${action}`);
    try {
      const state = this.state();
      bootTimeoutMs ??= state.backend === 'hardware' ? HARDWARE_TIMEOUTS.booted + HARDWARE_TIMEOUTS.reachable : 20_000;
      const target = boardOf(state, board);
      const driver = powerDriverOf(this.runDir, target);
      if (action !== 'on') {
        await driver.off();
        target.power = 'off';
        this.runDir.writeState(state);
        this.progress.step(`${board} powered off`);
      }
      if (action !== 'off') {
        if (action === 'cycle') await new Promise((r) => setTimeout(r, target.physical ? POWER_SETTLE_MS : 500));
        await driver.on();
        target.power = 'on';
        this.runDir.writeState(state);
        this.progress.step(`${board} powered on, waiting for SSH`);
        await waitReachable(this.runDir, state, board, bootTimeoutMs);
        this.progress.step(`${board} reachable`);
        if (state.protocol && target.roles.some((r) => AGENT_ROLES.includes(r))) {
          await this.agent(board).waitHealthy(bootTimeoutMs);
          this.progress.step(`${board} agent healthy`);
        }
      }
      return target.power;
    } finally {
      release();
    }
  }

  /**
   * The main job: does every client site land where the predictor says, in each race mode? With a
   * report folder, every gateway's WAN side is captured during its site's connections, and the folder
   * gets the pcaps and report.html (selection matrix and race timelines).
   */
  async verify(modes: RaceMode[] = ['plain', 'synchronized'], connections = 5, reportDir?: string): Promise<{ verdicts: SiteVerdict[]; report?: string }> {
    const { topology, profile } = this.inputs();
    const state = this.state();
    const switchAgent = this.agent(boardsWithRole(topology, 'server-switch')[0].name);
    const predictions = predict(topology, profile);
    const races: SiteRaces[] = [];
    const observe = async (p: SitePrediction, mode: RaceMode) => {
      const gateway = topology.boards.find((b) => b.name === p.gatewayBoard)!;
      const capture = await this.capture(p.gatewayBoard, interfaceOn(gateway, 'wan')!.name, join(reportDir!, 'pcaps', mode), '"tcp port 80 or ip proto 4"');
      return async () => {
        races.push({ clientSite: p.clientSite, mode, timelines: await readRaceTimelines(await capture.stop()) });
      };
    };
    const hostAddress = (host: string) => addressOf(topology.boards.find((b) => b.name === host)!.interfaces[0].address);
    let verdicts: SiteVerdict[];
    try {
      verdicts = await verifySelection(
        {
          topology,
          predictions,
          switchAgent,
          gateway: (board) => this.agent(board),
          runOnHost: async (host, command) => (await this.exec(host, command, 120_000)).stdout,
          hostAddress,
          ...(reportDir ? { observe } : {}),
        },
        modes,
        connections,
      );
    } finally {
      await switchAgent.post('/switch/race-mode', state.protocol?.raceMode ?? 'plain');
    }
    if (!reportDir) return { verdicts };
    const boardsByAddress = new Map([...candidateBoards(topology), ...predictions.map((p) => [hostAddress(p.hostBoard), p.hostBoard] as const)]);
    const report = writeHtmlReport(join(reportDir, 'report.html'), {
      lab: { topology: topology.name, profile: profile.name, delayMode: state.delay.mode, configuration: state.protocol?.configuration ?? 'A', date: new Date() },
      verdicts,
      predictions,
      races,
      boardsByAddress,
    });
    return { verdicts, report };
  }

  /** Starts a tcpdump on a board's interface; stop() brings the pcap to localDir. */
  capture(board: string, ifname: string, localDir: string, filter = ''): Promise<RunningCapture> {
    boardOf(this.state(), board);
    return startCapture(this, board, ifname, localDir, filter);
  }

  agent(board: string): AgentControl {
    return agentControl(this.state(), board);
  }

  waitReachable(board: string, timeoutMs: number): Promise<void> {
    return waitReachable(this.runDir, this.state(), board, timeoutMs);
  }

  consoleLog(board: string, tail?: number): Promise<string[]> {
    boardOf(this.state(), board);
    return readConsoleLog(this.runDir.consoleLog(board), { tail });
  }

  consoleSocket(board: string): string {
    boardOf(this.state(), board);
    return consoleSocketPath(this.runDir, board);
  }

  /** Where, on the board, its programs write to reach its serial console: a Pi's /dev/console is the serial line. */
  boardConsole(board: string): string {
    const target = boardOf(this.state(), board);
    return target.physical ? '/dev/console' : join(this.runDir.boardDir(board), 'ttyS0');
  }

  async measureRtt(count = 10): Promise<RttSample[]> {
    const { topology, profile } = this.inputs();
    const perSite = await Promise.all(clientSites(topology).map(({ site, host }) => this.withShell(host, (shell) => measureRttFrom(shell, topology, profile, site, count))));
    return perSite.flat();
  }

  /** Puts the profile's tc tree on every WAN board over SSH, as on hardware; see tc-trees.ts for `netem`. */
  applyTcTrees(profile: DelayProfile, netem = true): Promise<void> {
    const { topology } = this.inputs();
    return applyTcTrees(topology, profile, (board, script) => this.exec(board, script), this.progress, netem);
  }

  /** Swaps the geography of a live lab. */
  async applyProfile(profileNameOrPath: string): Promise<DelayProfile> {
    const release = this.runDir.lock('netem apply');
    try {
      const state = this.state();
      if (state.delay.mode === 'external') {
        throw new Error('this lab was brought up with --delay external: its delays come from the WAN between the boards, which synrace does not set; bring it up with --delay auto to have profiles applied by kernel netem');
      }
      const topology = loadTopology(state.topologyFile);
      const profile = loadProfile(resolveProfile(profileNameOrPath), topology);
      if (state.delay.mode === 'kernel-netem') {
        await this.applyTcTrees(profile);
        copyFileSync(profile.source, state.profileFile);
      } else {
        state.pids.wanDelay = await restartWanDelayLine(this.runDir, state, topology, profile);
      }
      this.runDir.writeState(state);
      this.progress.step(`profile ${profile.name} applied`);
      return profile;
    } finally {
      release();
    }
  }
}
