import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { probeNetem, type DelayProfile } from '@synrace/netem-profiles';
import type { LabInputs } from '../../inputs/lab-inputs';
import { generateKeyPair, ipBatch, NetnsPowerDriver, run, sshdCommand, startSerialCable, waitForPaths, writeSshdConfig, type BringUpTimeouts } from '@synrace/hardware';
import { createStep, type CreateRequest, type DownProblem, type LabBackend } from '../lab-backend';
import { LabHostNames } from '../../labs/host-names';
import type { BoardRecord, DelayMode, LabState } from '../../labs/lab-state';
import type { RunDir } from '../../labs/run-dir';
import { startConsoleServer } from '../../labs/console-server-process';
import { servicesScriptPath } from '../../provision/provision';
import type { BoardLayout } from '../../provision/provision-lab';
import type { BootRenderer } from './boot-script';
import { VIRTUAL_BOARD } from './board-class';
import { planLab, type BoardPlan, type LabPlan } from './lab-plan';
import { startHostMadeLab } from '../host-made-lab';
import { restartWanDelayLine, startWanDelayLine, wanDelayConfig } from './wan-delay-line';

/** The board's own part of the shared disk: what is `/` for files provisioned onto a Pi. */
export function boardFsRoot(runDir: RunDir, board: string): string {
  return join(runDir.boardDir(board), 'fs');
}

/** The power switch of a namespace board, from its record. */
export function namespacePower(runDir: RunDir, board: BoardRecord): NetnsPowerDriver {
  if (!board.netns) throw new Error(`board ${board.name} is not a namespace board`);
  const dir = runDir.boardDir(board.name);
  return new NetnsPowerDriver({ name: board.name, netns: board.netns, bootScript: join(dir, 'boot.sh'), initFile: join(dir, 'init.json'), logFile: join(dir, 'init.log') });
}

/** Where a namespace board's programs write to reach its serial console: the board end of its pty pair. */
function consoleTty(runDir: RunDir, board: string): string {
  return join(runDir.boardDir(board), 'ttyS0');
}

async function createLinks(plan: LabPlan, runDir: RunDir): Promise<void> {
  const { names } = plan;
  const namespaces = [...plan.boards.map((b) => b.netns), ...plan.lans.map((l) => l.netns), names.wanNetns];
  runDir.manifest().record(...namespaces.map((name) => ({ kind: 'netns' as const, name })), { kind: 'link', name: names.mgmtBridge }, ...plan.boards.map((b) => ({ kind: 'link' as const, name: b.mgmtHostLink })));
  await ipBatch(namespaces.map((ns) => `netns add ${ns}`));
  const host = [`link add ${names.mgmtBridge} type bridge`, `addr add ${plan.mgmtHostAddress}/${plan.mgmtPrefixLength} dev ${names.mgmtBridge}`, `link set ${names.mgmtBridge} up`];
  for (const b of plan.boards) {
    host.push(`link add ${b.mgmtHostLink} type veth peer name mgmt0 netns ${b.netns}`, `link set ${b.mgmtHostLink} master ${names.mgmtBridge}`, `link set ${b.mgmtHostLink} up`);
  }
  await ipBatch(host);
  await Promise.all(plan.boards.map((b) => ipBatch(b.dataLinks.map((l) => `link add ${l.ifname} type veth peer name ${l.peerIfname} netns ${l.peerNetns}`), b.netns)));
  await Promise.all([
    ...plan.lans.map(async (lan) => {
      await ipBatch(['link add br0 type bridge', 'link set br0 up', 'link set lo up', ...lan.ports.flatMap((p) => [`link set ${p.port} master br0`, `link set ${p.port} up`])], lan.netns);
      // A site's switch is plain layer 2: without this, br_netfilter would validate (and drop) malformed IPv4 a real switch passes.
      await run(['nsenter', `--net=/run/netns/${lan.netns}`, 'sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=0', 'net.bridge.bridge-nf-call-ip6tables=0', 'net.bridge.bridge-nf-call-arptables=0']);
    }),
    ipBatch(['link set lo up', ...plan.wanPorts.map((p) => `link set ${p.ifname} up`)], names.wanNetns),
  ]);
}

/**
 * Userspace packet handling (the delay line, the agents' packet sockets) sees whole, checksummed frames
 * only with offloads off on both ends of every data-plane veth (platform notes): a veth otherwise hands
 * over TCP segments with partial checksums and oversize GSO frames.
 */
async function disableDataPlaneOffloads(plan: LabPlan): Promise<void> {
  const ends = plan.boards.flatMap((b) => b.dataLinks.flatMap((l) => [{ netns: b.netns, ifname: l.ifname }, { netns: l.peerNetns, ifname: l.peerIfname }]));
  const byNamespace = new Map<string, string[]>();
  for (const e of ends) byNamespace.set(e.netns, [...(byNamespace.get(e.netns) ?? []), e.ifname]);
  // One shell per namespace rather than one nsenter per interface: a 50-board lab has hundreds of ends.
  await Promise.all([...byNamespace].map(([netns, ifnames]) =>
    run(['nsenter', `--net=/run/netns/${netns}`, 'sh', '-ec', ifnames.map((i) => `ethtool -K ${i} tx off tso off gso off gro off`).join('\n')])));
}

async function prepareBoardFiles(runDir: RunDir, board: BoardPlan, labKeyPub: string, renderBoot: BootRenderer): Promise<string> {
  const dir = runDir.boardDir(board.name);
  mkdirSync(dir, { recursive: true });
  const hostKey = await generateKeyPair(join(dir, 'ssh_host_ed25519_key'), `${board.name} host key`);
  const sshdConfig = await writeSshdConfig({ dir, listenAddress: board.mgmtAddress, port: 22, hostKeyPath: hostKey.privateKeyPath, authorizedKeysPath: labKeyPub, pidFile: join(dir, 'sshd.pid') });
  const sshd = sshdCommand(sshdConfig, join(dir, 'sshd.log'));
  const fsRoot = boardFsRoot(runDir, board.name);
  writeFileSync(join(dir, 'boot.sh'), renderBoot(board, { boardDir: dir, consoleTty: consoleTty(runDir, board.name), sshd, servicesScript: servicesScriptPath(fsRoot), home: join(fsRoot, 'root') }), { mode: 0o755 });
  return hostKey.publicKey;
}

/** Kernel netem where this kernel has it; the userspace delay line where it does not, or when asked for. */
async function chooseDelayMode(requested: CreateRequest['delay']): Promise<{ mode: DelayMode; probe: string }> {
  const netem = await probeNetem((script) => run(['sh', '-c', script], { allowFail: true }));
  if (requested === 'userspace') return { mode: 'userspace-delay-line', probe: `userspace requested; kernel netem: ${netem.reason}` };
  return { mode: netem.available ? 'kernel-netem' : 'userspace-delay-line', probe: netem.reason };
}

/**
 * Boards as network namespaces on this host: per lab, a management bridge the host reaches every
 * board's sshd on, one namespace per site LAN (a kernel bridge), and the WAN namespace, which is the
 * userspace delay line or, with kernel netem, a plain bridge whose delays the boards' tc trees make.
 */
export class NamespaceBackend implements LabBackend {
  readonly kind = 'namespace' as const;
  readonly timeouts: BringUpTimeouts = { powered: 10_000, booted: 20_000, reachable: 20_000, provisioned: 60_000 };
  readonly powerSettleMs = 500;
  /** Printed by the boot script when the board's console shell is up, as agetty's autologin line. */
  readonly bootMarker = /\blogin: root \(automatic login/;

  constructor(private readonly runDir: RunDir, private readonly inputs: LabInputs) {}

  async create(request: CreateRequest): Promise<LabState> {
    const { runDir, inputs } = request;
    const step = createStep(request);
    const names = new LabHostNames(request.name);
    const delay = await chooseDelayMode(request.delay);
    const { plan, state } = await startHostMadeLab(request, 'namespace', delay, (subnet) => planLab(inputs.topology, names, subnet), (p) =>
      p.boards.map((b) => ({ name: b.name, site: b.site, roles: b.roles, netns: b.netns, mgmtAddress: b.mgmtAddress, login: { port: 22, user: 'root', privateKeyPath: runDir.path('lab_key') }, hostKey: '', power: 'off' })),
    );
    step(`lab ${request.name} (topology ${plan.topology.name}): ${plan.boards.length} boards, ${plan.topology.sites.length} sites, profile ${inputs.profile.name}, delay by ${delay.mode}, management ${plan.mgmtSubnet}`);

    // Two tracks at once: the network (links, offloads, the WAN) and what the boards boot from (keys,
    // configs, boot scripts, serial lines and their console server); neither needs the other.
    const boards = request.boardClass ?? VIRTUAL_BOARD;
    const infraLog = openSync(runDir.path('logs', 'infrastructure.log'), 'a');
    try {
      const manifest = runDir.manifest();
      const network = async () => {
        await createLinks(plan, runDir);
        step(`namespaces and links created (${plan.boards.length + plan.lans.length + 1} namespaces)`);
        await disableDataPlaneOffloads(plan);
        if (delay.mode === 'userspace-delay-line') {
          await startWanDelayLine(runDir, plan, wanDelayConfig(plan, inputs.profile));
          step(`WAN delay line running (${plan.wanPorts.length} ports)`);
        } else {
          await ipBatch(['link add br0 type bridge', 'link set br0 up', ...plan.wanPorts.map((p) => `link set ${p.ifname} master br0`)], names.wanNetns);
          step('WAN is a kernel bridge; delays come from tc netem trees on each board');
        }
      };
      const bootFiles = async () => {
        const labKey = runDir.path('lab_key');
        await generateKeyPair(labKey, `synrace lab ${request.name} key`);
        const hostKeys = await Promise.all(plan.boards.map((b) => prepareBoardFiles(runDir, b, `${labKey}.pub`, boards.renderBoot)));
        state.boards.forEach((b, i) => (b.hostKey = hostKeys[i]));
        runDir.writeState(state);
        step('keys, sshd configs and boot scripts written');
      };
      const consoles = async () => {
        for (const b of plan.boards) {
          mkdirSync(runDir.boardDir(b.name), { recursive: true });
          manifest.recordProcess(`serial line of ${b.name}`, startSerialCable(join(runDir.boardDir(b.name), 'serial'), consoleTty(runDir, b.name), infraLog));
        }
        await waitForPaths(plan.boards.flatMap((b) => [join(runDir.boardDir(b.name), 'serial'), consoleTty(runDir, b.name)]), 5000);
        if (boards.serialLines === 'logged') {
          const lines = plan.boards.map((b) => ({ board: b.name, path: join(runDir.boardDir(b.name), 'serial'), baudRate: 115200 }));
          await startConsoleServer(runDir, lines, infraLog, (pid) => manifest.recordProcess('console server', pid));
        }
        step(boards.serialLines === 'logged' ? 'serial consoles attached' : 'serial lines ready for another console server');
      };
      const tracks = await Promise.allSettled([network(), bootFiles(), consoles()]);
      const failed = tracks.find((t): t is PromiseRejectedResult => t.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      closeSync(infraLog);
    }
    return state;
  }

  power(board: BoardRecord): NetnsPowerDriver {
    return namespacePower(this.runDir, board);
  }

  layout(board: BoardRecord): BoardLayout {
    return { fsRoot: boardFsRoot(this.runDir, board.name), init: { kind: 'boot-script', consoleTty: consoleTty(this.runDir, board.name), node: process.execPath } };
  }

  consoleDevice(board: BoardRecord): string {
    return consoleTty(this.runDir, board.name);
  }

  async changeDelays(state: LabState, profile: DelayProfile): Promise<void> {
    const plan = planLab(this.inputs.topology, new LabHostNames(state.name), state.management!.subnet);
    await restartWanDelayLine(this.runDir, plan, profile, state.profileFile);
  }

  /** Nothing on the boards outlives them: their host objects are the whole lab. */
  async release(): Promise<DownProblem[]> {
    return [];
  }
}
