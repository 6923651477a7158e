import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { copyFileSync, existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentControlClient, Configuration, RaceMode } from '@synrace/agents';
import { addressOf, boardsWithRole, interfaceOn, loadProfile, predict, type DelayProfile, type Role, type SitePrediction } from '@synrace/netem-profiles';
import { BoardStuckError, bringUp, bringUpSteps, readConsoleLog, type BoardTransition, type BringUpTimeouts, type SshShell } from '@synrace/hardware';
import { backendFor } from './backends/backends';
import { whereTheConsoleStopped } from './backends/getty-console';
import type { DownProblem, LabBackend } from './backends/lab-backend';
import type { NamespaceBoardClass } from './backends/namespace/board-class';
import { checkUpRequest, loadLabInputs, resolveProfile, type LabInputFiles, type LabInputs, type UpRequest } from './inputs/lab-inputs';
import { measureRttFrom, clientSites, judgedRttMs, measuredAgain, withinTolerance, type RttSample } from './delays/rtt';
import { applyTcTree, wanBoards } from './delays/tc-trees';
import { calibratedProfile, calibrationFrom, describeCalibration } from './delays/calibration';
import { startCapture, type RunningCapture } from './capture';
import { Progress } from './progress';
import { agentControl, labAgentConfig, provisionedBoards, provisionLabBoard, type LabProvisioning } from './provision/provision-lab';
import { holdsByAddress } from './provision/agent-config';
import { ProvisionError, webServerCommand, writeAgentConfig } from './provision/provision';
import { writeWebContent } from './provision/web-content';
import { writeHtmlReport, type SiteRaces } from './report/html-report';
import { readRaceTimelines } from './report/race-timeline';
import { candidateBoards, judgeRun, verifySelection, type RunJudgement, type SiteVerdict, type VerifyMode } from './verify';
import { boardOf, waitReachable } from './labs/board-access';
import { boardShells } from './labs/board-shells';
import { consoleSocketPath } from './labs/console-server-process';
import { LabHostNames } from './labs/host-names';
import type { BackendKind, BoardRecord, LabState, ProtocolOptions } from './labs/lab-state';
import { lockLab } from './labs/lab-lock';
import { checkLabName, labRunDir, resolveLab } from './labs/registry';
import { archiveLogs } from './labs/run-folders';
import type { RunDir } from './labs/run-dir';
import { removeHostObjects } from './labs/teardown';

/** Roles whose boards run an agent, which boot restarts and power-on waits for. */
const AGENT_ROLES: Role[] = ['client-gateway', 'server-switch', 'replica'];

const describeOff = (s: RttSample): string => `${s.from}->${s.to} ${judgedRttMs(s)?.toFixed(1) ?? 'lost'} ms ${s.statistic} (profile ${s.expectedMs.toFixed(1)} ms)`;

/** A provisioning step that takes this long is reported as it ends. */
const SLOW_STEP_MS = 2000;

/** How many more rounds an external WAN gets to show the profile's delays after the first. */
const EXTERNAL_DELAY_ROUNDS = 4;
/** Round trips per path and round when calibrating kernel netem: enough for a floor that is the path's, not one lucky answer's. */
const CALIBRATION_PINGS = 20;

/** The key the board printed on its console at this boot; a board whose key is pinned must print that one again. */
async function consoleHostKey(backend: LabBackend, board: BoardRecord, since: number): Promise<string> {
  const key = await backend.hostKeyFromConsole!(board, since);
  const blob = (k: string) => k.split(' ').slice(0, 2).join(' ');
  if (board.hostKey && blob(board.hostKey) !== blob(key)) throw new Error(`${board.name} printed host key ${blob(key)} on its console, not its pinned ${blob(board.hostKey)}`);
  return key;
}

export interface LabUpOptions extends LabInputFiles {
  /** The lab's name; defaults to the topology's. */
  name?: string;
  /** namespace (boards as network namespaces on this host, the default), or hardware (the boards of `inventory`). */
  backend?: BackendKind;
  replace?: boolean;
  /** userspace: namespace boards only; external: hardware only, a WAN that has the delays already. */
  delay?: 'auto' | 'userspace' | 'external';
  /** The host's management subnet to the boards; by default the topology's, or the next free one. */
  mgmtSubnet?: string;
  /** Limits of the bring-up steps, by the state each leads to. */
  timeouts?: Partial<BringUpTimeouts>;
  signal?: AbortSignal;
  configuration?: ProtocolOptions['configuration'];
  raceMode?: RaceMode;
  /** Namespace boards: what machine they play (a virtual board, or a stand-in for a physical one). */
  boardClass?: NamespaceBoardClass;
}

export interface TeardownSummary {
  lab: string;
  /** Boards the lab had. */
  boards: number;
  namespaces: number;
  processes: number;
  links: number;
  /** What could not be undone on which board (hardware: a board that was not reachable). */
  problems: DownProblem[];
  logs?: string;
}

export class Lab {
  private cachedInputs?: LabInputs;
  private cachedBackend?: LabBackend;
  private teardownUnderway?: Promise<TeardownSummary>;

  private constructor(readonly name: string, readonly runDir: RunDir, readonly progress: Progress) {}

  /** The lab of that name, or the only one there is. */
  static attach(name?: string, progress = new Progress()): Lab {
    const lab = resolveLab(name);
    return new Lab(lab, labRunDir(lab), progress);
  }

  /**
   * Brings a lab up: its backend makes what the boards stand on, then every board goes off -> powered ->
   * booted -> reachable -> provisioned on its own. On any failure (or a signal) whatever was made is
   * removed again; bad input is refused before anything is made.
   */
  static async up(opts: LabUpOptions = {}, progress = new Progress()): Promise<Lab> {
    return Lab.make(opts, progress, async (lab, startedAt) => {
      await lab.start(startedAt, opts.signal, opts.timeouts);
      if (lab.state().delay.mode === 'external') await lab.checkExternalDelays();
      if (lab.state().delay.mode === 'kernel-netem') await lab.calibrateDelays();
      const state = lab.state();
      state.phase = 'up';
      state.timings!.upMs = Date.now() - startedAt;
      lab.runDir.writeState(state);
      progress.step(`lab ${lab.name} up in ${(state.timings!.upMs / 1000).toFixed(2)} s`);
    });
  }

  /**
   * Makes the lab's host objects and its state, every board off (Mininet's build before start): what a
   * shelf of stand-ins for physical boards needs, whose power a hardware lab switches.
   */
  static build(opts: LabUpOptions = {}, progress = new Progress()): Promise<Lab> {
    return Lab.make(opts, progress, async () => undefined);
  }

  /** Checks the request, creates the lab under its lock, then `finish`es it; any failure removes what was made. */
  private static async make(opts: LabUpOptions, progress: Progress, finish: (lab: Lab, startedAt: number) => Promise<void>): Promise<Lab> {
    const startedAt = Date.now();
    const request: UpRequest = { backend: opts.backend ?? 'namespace', inventory: opts.inventory, delay: opts.delay ?? 'auto', mgmtSubnet: opts.mgmtSubnet };
    checkUpRequest(request);
    const inputs = loadLabInputs(opts);
    const name = checkLabName(opts.name ?? inputs.topology.name, opts.name ? '--name' : `the topology's name (give the lab another with --name)`);
    const runDir = labRunDir(name);
    const backend = backendFor(request.backend, runDir, inputs);
    if (existsSync(runDir.path('state.json')) || existsSync(runDir.path('manifest.json'))) {
      if (!opts.replace) {
        const since = runDir.exists() ? runDir.readState<LabState>().startedAt : 'a crashed up';
        throw new Error(`lab ${name} is already up (since ${since}, state in ${runDir.root}); run \`synrace down --lab ${name}\` first, pass --replace, or give this one another --name`);
      }
      await new Lab(name, runDir, progress).down();
    }
    const lab = new Lab(name, runDir, progress);
    lab.cachedInputs = inputs;
    lab.cachedBackend = backend;
    const release = lockLab(runDir, 'up');
    try {
      const protocol: ProtocolOptions = { configuration: opts.configuration ?? 'A', raceMode: opts.raceMode ?? 'plain' };
      const state = await backend.create({ delay: request.delay, mgmtSubnet: request.mgmtSubnet, name, runDir, inputs, protocol, progress, signal: opts.signal, boardClass: opts.boardClass });
      for (const b of state.boards) if (b.roles.some((r) => AGENT_ROLES.includes(r))) b.agentToken = randomBytes(24).toString('hex');
      state.protocol = protocol;
      state.timings = { createdMs: Date.now() - startedAt, allReachedMs: {} };
      runDir.writeState(state);
      await finish(lab, startedAt);
      return lab;
    } catch (err) {
      progress.step(`up failed: ${(err as Error).message.split('\n')[0].replace(/:$/, '')}; removing what was created`);
      await lab.teardown();
      throw err;
    } finally {
      release();
    }
  }

  /** Every board through the board state machine at once; one error names every board that got stuck, and where. */
  private async start(startedAt: number, signal?: AbortSignal, stepTimeouts: Partial<BringUpTimeouts> = {}): Promise<void> {
    const state = this.state();
    const backend = this.backend();
    const { topology, profile } = this.inputs();
    const provisioning = this.provisioning(state);
    const delayed = new Set(state.delay.mode === 'kernel-netem' ? wanBoards(topology) : []);
    const provisioned = new Set(provisionedBoards(topology));
    const reached = new Map<string, number>();
    const report = (t: BoardTransition) => {
      reached.set(t.to, (reached.get(t.to) ?? 0) + 1);
      if (t.to !== 'off') {
        if (reached.get(t.to) === state.boards.length) state.timings!.allReachedMs[t.to] = Date.now() - startedAt;
        (state.timings!.stepMs ??= {})[t.board] = { ...state.timings!.stepMs?.[t.board], [t.to]: t.ms };
      }
      this.progress.step(`${t.to} ${t.board} (${reached.get(t.to)}/${state.boards.length}, ${(t.ms / 1000).toFixed(1)} s)`);
    };
    // Every board's bring-up listens to the one Ctrl-C signal, up to four steps of it at a time.
    if (signal) setMaxListeners(state.boards.length * 4 + 10, signal);
    const results = await Promise.allSettled(
      state.boards.map((board) => {
        const power = backend.power(board);
        const bringing = bringUp(
          board.name,
          bringUpSteps({
            power: {
              // Every up is a cold boot: a board found on (a relay left closed) is cycled.
              on: async () => {
                if (await power.isOn()) await power.cycle(backend.powerSettleMs, signal);
                else await power.on();
                board.power = 'on';
                this.runDir.writeState(state);
              },
            },
            consoleLog: this.runDir.consoleLog(board.name),
            bootMarker: backend.bootMarker,
            ssh: { host: board.mgmtAddress, ...board.login, hostKey: board.hostKey },
            ...(backend.hostKeyFromConsole
              ? {
                  hostKeyFromConsole: async (since: number) => {
                    board.hostKey = await consoleHostKey(backend, board, since);
                    this.runDir.writeState(state);
                    return board.hostKey;
                  },
                }
              : {}),
            sshAttemptMs: 5000 * (backend.layout(board).timeScale ?? 1),
            provision: async ({ signal: stepSignal, shell }) => {
              if (delayed.has(board.name)) await this.applyBoardTree(shell, board.name, profile);
              stepSignal.throwIfAborted();
              if (provisioned.has(board.name)) await provisionLabBoard(provisioning, board.name, shell);
            },
          }),
          { ...backend.timeouts, ...stepTimeouts },
          report,
          signal,
        );
        // Said at once, not when the slowest board has settled: a stuck board is worth knowing about while the rest boot.
        bringing.catch((err: Error) => signal?.aborted || this.progress.step(`${board.name} stuck: ${err.message.split('\n')[0]}`));
        return bringing;
      }),
    );
    this.runDir.writeState(state);
    // Ctrl-C stops every board's bring-up at once (bringUp honours the signal); the teardown switches them off.
    signal?.throwIfAborted();
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failed.length) {
      const reasons = await Promise.all(failed.map((err) => this.explainStuck(err)));
      throw new Error(`${failed.length} of ${state.boards.length} boards did not come up:\n  - ${reasons.join('\n  - ')}`);
    }
  }

  /** Why a board got stuck: where its console stopped if it never booted, else whatever its backend can find out. */
  private async explainStuck(err: unknown): Promise<string> {
    if (err instanceof BoardStuckError && err.state === 'powered') return `${err.message}\n    ${await whereTheConsoleStopped(this.runDir.consoleLog(err.board))}`;
    return this.backend().explainStuck?.(err) ?? (err as Error).message;
  }

  /** What provisioning a board of this lab needs, for the lab's protocol as `state` has it. */
  private provisioning(state: LabState): LabProvisioning {
    const { topology, profile } = this.inputs();
    const backend = this.backend();
    // Steps that take seconds are a slow board's (an emulated one, a Pi on Wi-Fi): say what it is doing.
    const onStep = (board: string, step: string, ms: number) => ms >= SLOW_STEP_MS && this.progress.step(`${board}: ${step} (${(ms / 1000).toFixed(1)} s)`);
    return { state, topology, profile, options: state.protocol!, content: writeWebContent(this.runDir.path('content')), layoutOf: (board) => backend.layout(boardOf(state, board)), onStep };
  }

  /**
   * Switches a live lab to another configuration (A, B or C): every provisioned board is provisioned again, as
   * at `up`, and its agent restarted on the new config; done when every agent answers. The boards stay up, so
   * a lab whose boot is slow (QEMU boards, a shelf of Pis) runs all three without three bring-ups.
   */
  async reconfigure(configuration: Configuration): Promise<void> {
    const release = lockLab(this.runDir, `reconfigure ${configuration}`);
    try {
      const state = this.state();
      const was = state.protocol!.configuration;
      state.protocol = { ...state.protocol!, configuration };
      // Written first: once one board runs the new config, the lab's state must not name the old one.
      this.runDir.writeState(state);
      const provisioning = this.provisioning(state);
      const boards = provisionedBoards(this.inputs().topology);
      const results = await Promise.allSettled(boards.map((board) => this.withShell(board, (shell) => provisionLabBoard(provisioning, board, shell))));
      const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [r.reason instanceof ProvisionError ? r.reason.message : `${boards[i]}: ${(r.reason as Error).message}`] : []));
      if (failed.length) {
        throw new Error(`reconfigure ${was} -> ${configuration}: ${failed.length} of ${boards.length} boards failed, the rest run ${configuration}; run \`synrace reconfigure ${configuration}\` again once fixed:\n  ${failed.join('\n  ')}`);
      }
      this.progress.step(`lab ${this.name} runs configuration ${configuration}`);
    } finally {
      release();
    }
  }

  /**
   * Kernel netem: what the boards themselves add to each client's round trips at the least (about a millisecond per
   * forwarding board under TCG), taken off the netem delays so that the RTT matrix is the profile's. Each path's
   * lower floor of two rounds is kept, since a board still busy from its start only ever adds.
   */
  private async calibrateDelays(): Promise<void> {
    this.progress.step(`calibrating the delays: the RTT matrix, ${CALIBRATION_PINGS} pings per path, twice`);
    const rounds = [await this.measureRtt(CALIBRATION_PINGS), await this.measureRtt(CALIBRATION_PINGS)];
    const lower = rounds[0].map((s) => {
      const again = rounds[1].find((t) => t.from === s.from && t.to === s.to);
      return again?.minMs != null && (s.minMs === null || again.minMs < s.minMs) ? again : s;
    });
    const state = this.state();
    state.delay.calibration = calibrationFrom(lower, CALIBRATION_PINGS);
    this.runDir.writeState(state);
    await this.applyTcTrees(this.inputs().profile);
    this.progress.step(describeCalibration(state.delay.calibration));
  }

  /** A WAN that is said to have the delays already must show them: no lab on unchecked geography. */
  private async checkExternalDelays(): Promise<void> {
    this.progress.step('--delay external: measuring the RTT matrix against the profile');
    const off = (await this.measureRttSettled(10, EXTERNAL_DELAY_ROUNDS)).filter((s) => !withinTolerance(s));
    if (off.length) throw new Error(`--delay external, but the WAN does not have the profile's delays: ${off.map(describeOff).join(', ')}`);
  }

  state(): LabState {
    return this.runDir.readState<LabState>();
  }

  /** The lab's topology (with each physical board's own NIC names), profile and inventory, from the lab's own copies. */
  inputs(): LabInputs {
    if (!this.cachedInputs) {
      const state = this.state();
      this.cachedInputs = loadLabInputs({ topology: state.topologyFile, profile: state.profileFile, inventory: state.inventoryFile, backend: state.backend });
    }
    return this.cachedInputs;
  }

  backend(): LabBackend {
    this.cachedBackend ??= backendFor(this.state().backend, this.runDir, this.inputs());
    return this.cachedBackend;
  }

  /**
   * `interrupted`: this process ends on a signal, so an operation of its own on the lab (a power cycle, a
   * reconfigure) is abandoned, and its hold on the lab's lock does not stop the teardown.
   */
  down(options: { interrupted?: boolean } = {}): Promise<TeardownSummary> {
    // A second down in this process while one runs (a suite's after hook beside a signal's) joins it: the lock
    // does not keep them apart once the first has taken it over from this process's own abandoned work.
    this.teardownUnderway ??= this.lockedTeardown(options.interrupted ?? false).finally(() => (this.teardownUnderway = undefined));
    return this.teardownUnderway;
  }

  private async lockedTeardown(interrupted: boolean): Promise<TeardownSummary> {
    const release = lockLab(this.runDir, 'down', interrupted);
    try {
      return await this.teardown();
    } finally {
      release();
    }
  }

  /** The backend's undo on the boards, then every host object the manifest lists, then the run directory; the console logs are kept. */
  private async teardown(): Promise<TeardownSummary> {
    const state = this.runDir.exists() ? this.state() : undefined;
    await Promise.all((state?.boards ?? []).map((b) => boardShells.forget(this.name, b.name)));
    const problems = state ? await this.backend().release(state, this.progress) : [];
    // The boards' files (bundles, web content) go while the kernel takes the links down: neither waits for the other.
    const boardFiles = rm(this.runDir.path('boards'), { recursive: true, force: true });
    const host = await removeHostObjects(this.runDir, new LabHostNames(this.name), this.progress);
    await boardFiles;
    const logs = archiveLogs(this.name, this.runDir.path('logs'), new Date(state?.startedAt ?? Date.now()));
    if (logs) this.progress.step(`console logs kept in ${logs}`);
    this.runDir.remove();
    return { lab: this.name, boards: state?.boards.length ?? 0, ...host, problems, logs };
  }

  /** Runs work with an SSH shell on the board: an open connection of this process, or a new one. Work must not close it. */
  async withShell<T>(board: string, work: (shell: SshShell) => Promise<T>): Promise<T> {
    const state = this.state();
    const target = boardOf(state, board);
    // Not the connect timeout of a board that may still be booting: the lab switched this one off.
    if (target.power === 'off') throw new Error(`board ${board} of lab ${this.name} is powered off: \`synrace power ${board} on --lab ${this.name}\` first`);
    return boardShells.use(state, board, 10_000 * (this.backend().layout(target).timeScale ?? 1), work);
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

  /** Stops or starts a provisioned board's web server, the way the board's init does. */
  async webServer(board: string, action: 'stop' | 'start'): Promise<void> {
    const { code, stderr } = await this.exec(board, webServerCommand(this.backend().layout(boardOf(this.state(), board)), action));
    if (code !== 0) throw new Error(`${action} of the web server on ${board} failed: ${stderr.trim()}`);
  }

  async power(board: string, action: 'on' | 'off' | 'cycle', bootTimeoutMs?: number): Promise<'on' | 'off'> {
    const release = lockLab(this.runDir, `power ${board} ${action}`);
    try {
      const state = this.state();
      const backend = this.backend();
      bootTimeoutMs ??= backend.timeouts.booted + backend.timeouts.reachable;
      const target = boardOf(state, board);
      const driver = backend.power(target);
      if (action !== 'on') {
        await boardShells.forget(this.name, board);
        await driver.off();
        target.power = 'off';
        this.runDir.writeState(state);
        this.progress.step(`${board} powered off`);
      }
      if (action !== 'off') {
        if (action === 'cycle') await new Promise((r) => setTimeout(r, backend.powerSettleMs));
        await driver.on();
        target.power = 'on';
        this.runDir.writeState(state);
        this.progress.step(`${board} powered on, waiting for SSH`);
        await waitReachable(state, this.runDir.consoleLog(board), board, bootTimeoutMs);
        this.progress.step(`${board} reachable`);
        // A cold boot starts with no qdiscs: the board's share of the geography goes back on, as at `up`.
        if (state.delay.mode === 'kernel-netem' && wanBoards(this.inputs().topology).includes(board)) {
          await this.withShell(board, (shell) => this.applyBoardTree(shell, board, this.inputs().profile));
          this.progress.step(`${board}: tc tree applied`);
        }
        if (target.agentToken) {
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
  async verify(modes: readonly VerifyMode[] = ['plain', 'synchronized'], connections = 5, reportDir?: string): Promise<{ verdicts: SiteVerdict[]; judged: RunJudgement; report?: string }> {
    const { topology, profile } = this.inputs();
    const state = this.state();
    const switchAgent = this.agent(boardsWithRole(topology, 'server-switch')[0].name);
    const predictions = predict(topology, profile);
    const races: SiteRaces[] = [];
    const observe = async (p: SitePrediction, mode: VerifyMode) => {
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
          labRace: state.protocol?.raceMode ?? 'plain',
          ...(reportDir ? { observe } : {}),
        },
        modes,
        connections,
      );
    } finally {
      await switchAgent.setRaceMode(state.protocol?.raceMode ?? 'plain');
    }
    const judged = judgeRun(verdicts, predictions);
    if (!reportDir) return { verdicts, judged };
    const boardsByAddress = new Map([...candidateBoards(topology), ...predictions.map((p) => [hostAddress(p.hostBoard), p.hostBoard] as const)]);
    const report = writeHtmlReport(join(reportDir, 'report.html'), {
      lab: { topology: topology.name, profile: profile.name, delayMode: state.delay.mode, configuration: state.protocol?.configuration ?? 'A', date: new Date() },
      verdicts,
      predictions,
      races,
      boardsByAddress,
    });
    return { verdicts, judged, report };
  }

  /** Starts a tcpdump on a board's interface; stop() brings the pcap to localDir. */
  capture(board: string, ifname: string, localDir: string, filter = ''): Promise<RunningCapture> {
    boardOf(this.state(), board);
    return startCapture(this, board, ifname, localDir, filter);
  }

  agent(board: string): AgentControlClient {
    return agentControl(this.state(), board);
  }

  /** The boards whose agent has a control API, in topology order. */
  agentBoards(): BoardRecord[] {
    return this.state().boards.filter((b) => b.agentToken !== undefined);
  }

  waitReachable(board: string, timeoutMs: number): Promise<void> {
    return waitReachable(this.state(), this.runDir.consoleLog(board), board, timeoutMs);
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
    return this.backend().consoleDevice(boardOf(this.state(), board));
  }

  /**
   * The RTT matrix, each path off the profile measured again up to `rounds` times, a second longer apart each
   * time, until it is on. Boards that have just started their services keep a loaded host busy for some seconds,
   * which only ever adds to a round trip; a path whose delays are not the profile's stays off in every round. A path
   * measured again keeps its fastest round trip of all rounds.
   */
  async measureRttSettled(count: number, rounds: number): Promise<RttSample[]> {
    const key = (s: RttSample) => `${s.from}->${s.to}`;
    const samples = new Map((await this.measureRtt(count)).map((s) => [key(s), s]));
    for (let round = 1; round <= rounds; round++) {
      const off = [...samples.values()].filter((s) => !withinTolerance(s));
      if (off.length === 0) break;
      this.progress.step(`${off.length} paths off the profile (${off.map(describeOff).join(', ')}); measuring again in ${round} s (${round} of ${rounds})`);
      await new Promise((r) => setTimeout(r, round * 1000));
      for (const s of await this.measureRtt(count)) if (off.some((o) => key(o) === key(s))) samples.set(key(s), measuredAgain(samples.get(key(s))!, s));
    }
    return [...samples.values()];
  }

  async measureRtt(count = 10): Promise<RttSample[]> {
    const { topology, profile } = this.inputs();
    const statistic = this.state().delay.mode === 'external' ? 'floor' : 'median';
    const perSite = await Promise.all(clientSites(topology).map(({ site, host }) => this.withShell(host, (shell) => measureRttFrom(shell, topology, profile, site, count, statistic))));
    return perSite.flat();
  }

  /**
   * Puts the profile's tc tree on every WAN board over SSH, as on hardware, each delay shortened by the lab's
   * calibration; `netem: false` leaves the netem leaves out.
   */
  async applyTcTrees(profile: DelayProfile, netem = true): Promise<void> {
    const boards = wanBoards(this.inputs().topology);
    await Promise.all(boards.map((board) => this.withShell(board, (shell) => this.applyBoardTree(shell, board, profile, netem))));
    this.progress.step(`tc tree applied on ${boards.length} WAN boards`);
  }

  /** The board's share of the profile's geography as its tc tree, each delay less the lab's calibration (none yet during `up`). */
  private applyBoardTree(shell: SshShell, board: string, authored: DelayProfile, netem = true): Promise<void> {
    const state = this.state();
    const profile = calibratedProfile(authored, state.delay.calibration);
    return applyTcTree(shell, this.inputs().topology, profile, board, { netem, timeScale: this.backend().layout(boardOf(state, board)).timeScale });
  }

  /** Swaps the geography of a live lab. */
  async applyProfile(profileNameOrPath: string): Promise<DelayProfile> {
    const release = lockLab(this.runDir, 'netem apply');
    try {
      const state = this.state();
      if (state.delay.mode === 'external') {
        throw new Error('this lab was brought up with --delay external: its delays come from the WAN between the boards, which synrace does not set; bring it up with --delay auto to have profiles applied by kernel netem');
      }
      const { topology } = this.inputs();
      const profile = loadProfile(resolveProfile(profileNameOrPath), topology);
      if (state.delay.mode === 'kernel-netem') {
        await this.applyTcTrees(profile);
        copyFileSync(profile.source, state.profileFile);
      } else {
        await this.backend().changeDelays!(state, profile);
      }
      // The synchronized and bounded races hold copies by the geography: the switch takes the new holds live, and
      // its config file gets them too, so that a restart by its supervisor or a power cycle keeps them.
      const switchBoard = boardsWithRole(topology, 'server-switch')[0].name;
      await this.agent(switchBoard).setHolds(holdsByAddress(topology, profile));
      const config = labAgentConfig({ state, topology, profile, options: state.protocol! }, switchBoard)!;
      await this.withShell(switchBoard, (shell) => writeAgentConfig(shell, this.backend().layout(boardOf(state, switchBoard)), config));
      this.cachedInputs = undefined;
      this.progress.step(`profile ${profile.name} applied`);
      return profile;
    } finally {
      release();
    }
  }
}
