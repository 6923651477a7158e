import { closeSync, copyFileSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadProfile, loadTopology, type DelayProfile, type Topology } from '@synrace/netem-profiles';
import {
  NetnsPowerDriver,
  generateKeyPair,
  ipBatch,
  killIfMatches,
  killNetnsProcesses,
  pidsMentioning,
  prepareUtsDir,
  createUtsNamespace,
  releaseUtsDir,
  run,
  startSerialCable,
  waitForPaths,
  writeSshdConfig,
  sshdCommand,
} from '@synrace/hardware';
import type { BoardState, DelayMode, LabState } from '../lab-state';
import { allWithProgress, type Progress } from '../progress';
import type { RunDir } from '../run-dir';
import { renderBootScript, type BootRenderer } from './boot-script';
import { servicesScriptPath } from '../provision/provision';
import { MGMT_BRIDGE, WAN_NETNS, planLab, type BoardPlan, type LabPlan } from './lab-plan';
import { waitReachable } from '../board-access';
import { startConsoleServer } from '../console-server-process';
import { findLeftovers } from './leftovers';
import { startWanDelayLine, wanDelayConfig } from './wan';

export interface UpOptions {
  topologyFile: string;
  profileFile: string;
  delayMode: DelayMode;
  delayProbe: string;
  bootTimeoutMs: number;
  signal?: AbortSignal;
  /**
   * A shelf of stand-ins for physical boards (tests of the hardware backend): each board boots the
   * script `renderBoot` gives, nothing owns the serial lines (the hardware lab's console server does)
   * and the boards stay off until something switches them on.
   */
  shelf?: { renderBoot: BootRenderer };
}

/** A virtual board's own part of the shared disk: what is `/` for files provisioned onto a Pi. */
export function boardFsRoot(runDir: RunDir, board: string): string {
  return join(runDir.boardDir(board), 'fs');
}

export function powerDriverFor(run: RunDir, board: BoardState): NetnsPowerDriver {
  if (!board.netns) throw new Error(`board ${board.name} is not a virtual board`);
  return new NetnsPowerDriver({ name: board.name, netns: board.netns, utsFile: run.path('uts', board.name), bootScript: join(run.boardDir(board.name), 'boot.sh') });
}

/** Everything before the first namespace is created: bad input must leave nothing behind. */
export function loadLabInputs(topologyFile: string, profileFile: string): { topology: Topology; profile: DelayProfile; plan: LabPlan } {
  const topology = loadTopology(topologyFile);
  const profile = loadProfile(profileFile, topology);
  return { topology, profile, plan: planLab(topology) };
}

async function createLinks(plan: LabPlan): Promise<void> {
  await ipBatch([...plan.boards.map((b) => `netns add ${b.netns}`), ...plan.lans.map((l) => `netns add ${l.netns}`), `netns add ${WAN_NETNS}`]);
  const host = [`link add ${MGMT_BRIDGE} type bridge`, `addr add ${plan.mgmtHostAddress}/${plan.mgmtPrefixLength} dev ${MGMT_BRIDGE}`, `link set ${MGMT_BRIDGE} up`];
  for (const b of plan.boards) {
    host.push(`link add ${b.mgmtHostLink} type veth peer name mgmt0 netns ${b.netns}`, `link set ${b.mgmtHostLink} master ${MGMT_BRIDGE}`, `link set ${b.mgmtHostLink} up`);
  }
  await ipBatch(host);
  await Promise.all(plan.boards.map((b) => ipBatch(b.dataLinks.map((l) => `link add ${l.ifname} type veth peer name ${l.peerIfname} netns ${l.peerNetns}`), b.netns)));
  await Promise.all([
    ...plan.lans.map(async (lan) => {
      await ipBatch(['link add br0 type bridge', 'link set br0 up', 'link set lo up', ...lan.ports.flatMap((p) => [`link set ${p.port} master br0`, `link set ${p.port} up`])], lan.netns);
      // A site's switch is plain layer 2: without this, br_netfilter would validate (and drop) malformed IPv4 a real switch passes.
      await run(['nsenter', `--net=/run/netns/${lan.netns}`, 'sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=0', 'net.bridge.bridge-nf-call-ip6tables=0', 'net.bridge.bridge-nf-call-arptables=0']);
    }),
    ipBatch(['link set lo up', ...plan.wanPorts.map((p) => `link set ${p.ifname} up`)], WAN_NETNS),
  ]);
}

/**
 * Userspace packet handling (the delay line, the agents' packet sockets) sees whole, checksummed frames
 * only with offloads off on both ends of every data-plane veth (platform notes): a veth otherwise hands
 * over TCP segments with partial checksums and oversize GSO frames.
 */
async function disableDataPlaneOffloads(plan: LabPlan): Promise<void> {
  const ends = plan.boards.flatMap((b) => b.dataLinks.flatMap((l) => [{ netns: b.netns, ifname: l.ifname }, { netns: l.peerNetns, ifname: l.peerIfname }]));
  await Promise.all(ends.map((e) => run(['nsenter', `--net=/run/netns/${e.netns}`, 'ethtool', '-K', e.ifname, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'])));
}

async function prepareBoardFiles(runDir: RunDir, board: BoardPlan, labKeyPub: string, renderBoot: BootRenderer): Promise<string> {
  const dir = runDir.boardDir(board.name);
  mkdirSync(dir, { recursive: true });
  const hostKey = await generateKeyPair(join(dir, 'ssh_host_ed25519_key'), `${board.name} host key`);
  const sshdConfig = await writeSshdConfig({ dir, listenAddress: board.mgmtAddress, port: 22, hostKeyPath: hostKey.privateKeyPath, authorizedKeysPath: labKeyPub, pidFile: join(dir, 'sshd.pid') });
  const sshd = sshdCommand(sshdConfig, join(dir, 'sshd.log'));
  writeFileSync(join(dir, 'boot.sh'), renderBoot(board, { boardDir: dir, consoleTty: join(dir, 'ttyS0'), sshd, servicesScript: servicesScriptPath(boardFsRoot(runDir, board.name)) }), { mode: 0o755 });
  return hostKey.publicKey;
}

export async function labUp(runDir: RunDir, opts: UpOptions, progress: Progress): Promise<LabState> {
  const { profile, plan } = loadLabInputs(opts.topologyFile, opts.profileFile);
  // A Ctrl-C is honoured between steps, so the teardown that follows does not race a step still creating things.
  const step = (message: string) => {
    opts.signal?.throwIfAborted();
    progress.step(message);
  };
  mkdirSync(runDir.path('logs'), { recursive: true });
  const topologyFile = runDir.path('topology.yaml');
  const profileFile = runDir.path('profile.yaml');
  copyFileSync(opts.topologyFile, topologyFile);
  copyFileSync(opts.profileFile, profileFile);
  const state: LabState = {
    version: 1,
    backend: 'virtual',
    phase: 'creating',
    startedAt: new Date().toISOString(),
    topologyFile,
    profileFile,
    delay: { mode: opts.delayMode, probe: opts.delayProbe },
    boards: plan.boards.map((b) => ({ name: b.name, site: b.site, roles: b.roles, netns: b.netns, mgmtAddress: b.mgmtAddress, login: { port: 22, user: 'root', privateKeyPath: runDir.path('lab_key') }, hostKey: '', power: 'off' })),
    pids: { serialCables: {} },
  };
  runDir.writeState(state);
  step(`lab ${plan.topology.name}: ${plan.boards.length} boards, ${plan.topology.sites.length} sites, profile ${profile.name}, delay by ${opts.delayMode}`);

  await prepareUtsDir(runDir.path('uts'));
  await createLinks(plan);
  await Promise.all(plan.boards.map((b) => createUtsNamespace(runDir.path('uts', b.name), b.name)));
  step(`namespaces and links created (${plan.boards.length + plan.lans.length + 1} namespaces)`);

  const labKey = runDir.path('lab_key');
  await generateKeyPair(labKey, 'synrace lab key');
  const hostKeys = await Promise.all(plan.boards.map((b) => prepareBoardFiles(runDir, b, `${labKey}.pub`, opts.shelf?.renderBoot ?? renderBootScript)));
  state.boards.forEach((b, i) => (b.hostKey = hostKeys[i]));
  runDir.writeState(state);
  step('keys, sshd configs and boot scripts written');

  const infraLog = openSync(runDir.path('logs', 'infrastructure.log'), 'a');
  try {
    for (const b of plan.boards) {
      state.pids.serialCables[b.name] = startSerialCable(join(runDir.boardDir(b.name), 'serial'), join(runDir.boardDir(b.name), 'ttyS0'), infraLog);
    }
    runDir.writeState(state);
    await waitForPaths(plan.boards.flatMap((b) => [join(runDir.boardDir(b.name), 'serial'), join(runDir.boardDir(b.name), 'ttyS0')]), 5000);
    if (!opts.shelf) {
      const consoles = plan.boards.map((b) => ({ board: b.name, path: join(runDir.boardDir(b.name), 'serial'), baudRate: 115200 }));
      state.pids.consoleServer = await startConsoleServer(runDir, consoles, infraLog, (pid) => {
        state.pids.consoleServer = pid;
        runDir.writeState(state);
      });
    }
    step(opts.shelf ? 'serial lines ready for the shelf\'s own console server' : 'serial consoles attached');

    await disableDataPlaneOffloads(plan);
    if (opts.delayMode === 'userspace-delay-line') {
      state.pids.wanDelay = await startWanDelayLine(runDir, wanDelayConfig(plan, profile));
      runDir.writeState(state);
      step(`WAN delay line running (${plan.wanPorts.length} ports)`);
    } else {
      await ipBatch(['link add br0 type bridge', 'link set br0 up', ...plan.wanPorts.map((p) => `link set ${p.ifname} master br0`)], WAN_NETNS);
      step('WAN is a kernel bridge; delays come from tc netem trees on each board');
    }
  } finally {
    closeSync(infraLog);
  }

  if (opts.shelf) {
    state.phase = 'up';
    runDir.writeState(state);
    return state;
  }
  await allWithProgress(progress, 'powered on', plan.boards.map((b) => b.name), async (name) => {
    const board = state.boards.find((b) => b.name === name)!;
    await powerDriverFor(runDir, board).on();
    board.power = 'on';
  });
  runDir.writeState(state);
  opts.signal?.throwIfAborted();
  await allWithProgress(progress, 'reachable over SSH', plan.boards.map((b) => b.name), (name) => waitReachable(runDir, state, name, opts.bootTimeoutMs));
  state.phase = 'up';
  runDir.writeState(state);
  return state;
}

/**
 * Removes everything a lab may have created, found by name and by marker rather than only from the
 * state file, because `up` may have been killed before it wrote down what it made.
 */
export async function labDown(runDir: RunDir, progress: Progress): Promise<{ namespaces: number; processes: number }> {
  let processes = 0;
  if (runDir.exists()) {
    const state = runDir.readState<LabState>();
    const pids = [state.pids.consoleServer, state.pids.wanDelay, ...Object.values(state.pids.serialCables)].filter((p): p is number => p !== undefined);
    processes += pids.filter((pid) => killIfMatches(pid, runDir.root)).length;
  }
  const found = await findLeftovers(runDir);
  for (const ns of found.namespaces) processes += await killNetnsProcesses(ns);
  // Only our own helpers: a user's `tail -f` on a console log must survive `down`.
  for (const pid of pidsMentioning(runDir.root, /^(socat |node \S*console-server\.js)/)) {
    if (killIfMatches(pid, runDir.root, 'SIGKILL')) processes += 1;
  }
  // Host links first: deleting a namespace takes the host end of its veth with it.
  await ipBatch(found.links.map((n) => `link del ${n}`));
  await ipBatch(found.namespaces.map((ns) => `netns del ${ns}`));
  await releaseUtsDir(runDir.path('uts'));
  progress.step(`removed ${found.namespaces.length} namespaces, ${found.links.length} host links, ${processes} processes`);
  return { namespaces: found.namespaces.length, processes };
}
