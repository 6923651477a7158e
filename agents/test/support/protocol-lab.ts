// A small synrace lab of network namespaces for the agents' protocol tests: a client host behind a client
// gateway, a WAN (a kernel bridge) with the server switch, one replica and a rogue board, and the origin
// behind the switch. Every name starts with `srsec-<random>` (namespaces, processes), so concurrent runs
// and anyone else's labs are never touched; destroy() removes it all, and so does Ctrl-C (SIGINT/SIGTERM).
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { IPPROTO_RAW } from '../../src/io/libc';
import { openRawIpSocket, type RawIpSocket } from '../../src/io/raw-ip-socket';
import { parseIp } from '../../src/packet/address';
import { spawnAgent, waitForOutput, type AgentRun } from './agent-process';
import { inNetns } from './netns';

export const ADDR = {
  client: '10.61.1.10',
  gwLan: '10.61.1.1',
  gwWan: '10.61.255.11',
  switchWan: '10.61.255.20',
  switchLan: '10.61.10.1',
  origin: '10.61.10.80',
  replica: '10.61.255.31',
  rogue: '10.61.255.66',
} as const;

const MAC = { gw: '02:53:52:00:00:11', sw: '02:53:52:00:00:20', replica: '02:53:52:00:00:31', rogue: '02:53:52:00:00:66' } as const;

/** 8081 is a web port nothing listens on. */
export const WEB_PORTS = [80, 8080, 8081];

type Board = 'client' | 'gw' | 'wan' | 'sw' | 'origin' | 'replica' | 'rogue';

export interface Daemon {
  child: ChildProcess;
  output(): string;
  /** Resolves once the output contains `text`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  kill(): void;
}

export interface ProtocolLab {
  id: string;
  ns: Record<Board, string>;
  /** A long-running process in a namespace, named srsec-<id>-<name>. */
  daemon(board: Board, name: string, argv: string[]): Daemon;
  /** The agent of `board` with this config; resolves when it printed `ready`. */
  agent(board: Board, config: unknown, ready: string): Promise<AgentRun>;
  /** Runs a short command in a board's namespace and returns its stdout. */
  run(board: Board, argv: string[]): string;
  /** Sends a complete IPv4 packet from the rogue board (a raw socket there: any source address). */
  fromRogue(packet: Buffer): void;
  destroy(): void;
}

const live = new Set<ProtocolLab>();
let handlersInstalled = false;

function installInterruptHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // Ahead of mocha's own handler, which would exit before the namespaces are gone.
    process.prependListener(signal, () => {
      for (const lab of live) lab.destroy();
      process.exit(130);
    });
  }
}

function sh(argv: string[]): string {
  return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const OFFLOADS_OFF = ['rx', 'off', 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'];

/** Python web server: greets each connection with `hi <name>`, then echoes lines until `bye`. */
export const WEB_SERVER_PY = `
import socket, socketserver, sys
name, ports = sys.argv[1], [int(p) for p in sys.argv[2].split(',')]
class H(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(('hi %s\\n' % name).encode())
        for line in self.rfile:
            line = line.decode().strip()
            if line == 'bye': return
            if line.startswith('bulk '):
                self.wfile.write(b'x' * int(line[5:]) + b'\\n')
            else:
                self.wfile.write(('echo %s\\n' % line).encode())
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
servers = [S(('0.0.0.0', p), H) for p in ports]
import threading
for s in servers[1:]: threading.Thread(target=s.serve_forever, daemon=True).start()
print('serving', flush=True)
servers[0].serve_forever()
`;

/**
 * Python client: connects, prints `connected <local port>` and the greeting (or `refused`/`error ...`),
 * then per stdin line `send X` sends X and prints `got <reply>` (or `reset`/`closed`).
 */
export const CLIENT_PY = `
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket()
s.settimeout(float(sys.argv[3]) if len(sys.argv) > 3 else 5)
t = time.monotonic()
try:
    s.connect((host, port))
except ConnectionRefusedError:
    print('refused %.3f' % (time.monotonic() - t), flush=True); sys.exit(0)
except Exception as e:
    print('error %s %.3f' % (type(e).__name__, time.monotonic() - t), flush=True); sys.exit(0)
print('connected %d %.3f' % (s.getsockname()[1], time.monotonic() - t), flush=True)
f = s.makefile('rb')
def reply():
    try:
        line = f.readline()
        print(('got ' + line.decode().strip()) if line else 'closed', flush=True)
    except ConnectionResetError:
        print('reset', flush=True)
    except Exception as e:
        print('error %s' % type(e).__name__, flush=True)
reply()
for cmd in sys.stdin:
    cmd = cmd.strip()
    if cmd.startswith('send '):
        try:
            s.sendall((cmd[5:] + '\\n').encode())
        except Exception as e:
            print('reset' if isinstance(e, ConnectionResetError) else 'error %s' % type(e).__name__, flush=True); continue
        reply()
`;

export function createProtocolLab(): ProtocolLab {
  installInterruptHandlers();
  const id = `srsec-${randomBytes(3).toString('hex')}`;
  const boards: Board[] = ['client', 'gw', 'wan', 'sw', 'origin', 'replica', 'rogue'];
  const ns = Object.fromEntries(boards.map((b) => [b, `${id}-${b}`])) as Record<Board, string>;
  const children = new Set<ChildProcess>();
  const agents = new Set<AgentRun>();
  const sockets: RawIpSocket[] = [];
  let destroyed = false;
  const run = (board: Board, argv: string[]): string => sh(['ip', 'netns', 'exec', ns[board], ...argv]);
  const ip = (board: Board, args: string[]): string => sh(['ip', '-n', ns[board], ...args]);

  const lab: ProtocolLab = {
    id,
    ns,
    run,
    daemon(board, name, argv) {
      const child = spawn('ip', ['netns', 'exec', ns[board], 'bash', '-c', 'exec -a "$0" "$@"', `${id}-${name}`, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
      children.add(child);
      child.once('exit', () => children.delete(child));
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      return {
        child,
        output: () => out,
        // A start, not a judgement: beside two other lanes, a python3 web server once printed nothing within 5 s (CI61).
        waitFor(text, timeoutMs = 20_000) {
          return new Promise((resolve, reject) => {
            const started = Date.now();
            const poll = setInterval(() => {
              if (out.includes(text)) {
                clearInterval(poll);
                resolve();
              } else if (Date.now() - started > timeoutMs) {
                clearInterval(poll);
                reject(new Error(`${name}: no '${text}' within ${timeoutMs} ms; output:\n${out}`));
              }
            }, 10);
          });
        },
        kill: () => void child.kill('SIGKILL'),
      };
    },
    async agent(board, config, ready) {
      const agent = spawnAgent(ns[board], config, `${id}-agent-${board}`);
      agents.add(agent);
      void agent.exited.then(() => agents.delete(agent));
      await waitForOutput(agent, ready, 10_000);
      return agent;
    },
    fromRogue(packet) {
      if (sockets.length === 0) sockets.push(inNetns(ns.rogue, () => openRawIpSocket(IPPROTO_RAW)));
      const dst = packet.readUInt32BE(16);
      const sent = sockets[0].sendTo(packet, dst);
      if (sent !== true) throw new Error(`rogue send failed: ${sent}`);
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      live.delete(lab);
      for (const s of sockets) s.close();
      for (const a of agents) a.child.kill('SIGKILL');
      for (const c of children) c.kill('SIGKILL');
      for (const n of Object.values(ns)) {
        try {
          sh(['ip', 'netns', 'del', n]);
        } catch {
          // not created
        }
      }
    },
  };
  live.add(lab);

  try {
    for (const b of boards) {
      sh(['ip', 'netns', 'add', ns[b]]);
      run(b, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      ip(b, ['link', 'set', 'lo', 'up']);
    }
    const link = (a: Board, aIf: string, b: Board, bIf: string): void => {
      ip(a, ['link', 'add', aIf, 'type', 'veth', 'peer', 'name', bIf, 'netns', ns[b]]);
      for (const [board, ifname] of [[a, aIf], [b, bIf]] as [Board, string][]) {
        ip(board, ['link', 'set', ifname, 'up']);
        run(board, ['ethtool', '-K', ifname, ...OFFLOADS_OFF]);
      }
    };
    link('client', 'eth0', 'gw', 'lan0');
    link('sw', 'lan0', 'origin', 'eth0');
    ip('wan', ['link', 'add', 'br0', 'type', 'bridge']);
    ip('wan', ['link', 'set', 'br0', 'up']);
    try {
      run('wan', ['sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=0']);
    } catch {
      // br_netfilter not loaded: nothing to switch off
    }
    const wanBoards: [Board, string, string][] = [['gw', ADDR.gwWan, MAC.gw], ['sw', ADDR.switchWan, MAC.sw], ['replica', ADDR.replica, MAC.replica], ['rogue', ADDR.rogue, MAC.rogue]];
    for (const [board, address, mac] of wanBoards) {
      link(board, 'wan0', 'wan', `p-${board}`);
      ip('wan', ['link', 'set', `p-${board}`, 'master', 'br0']);
      ip(board, ['link', 'set', 'wan0', 'address', mac]);
      ip(board, ['addr', 'add', `${address}/24`, 'dev', 'wan0']);
    }
    // As in the synrace lab: fixed MACs and permanent neighbours on the WAN, so no ARP crosses it.
    for (const [board] of wanBoards) {
      for (const [other, address, mac] of wanBoards) {
        if (other !== board) ip(board, ['neigh', 'replace', address, 'lladdr', mac, 'dev', 'wan0', 'nud', 'permanent']);
      }
    }
    ip('client', ['addr', 'add', `${ADDR.client}/24`, 'dev', 'eth0']);
    ip('client', ['route', 'add', 'default', 'via', ADDR.gwLan]);
    ip('gw', ['addr', 'add', `${ADDR.gwLan}/24`, 'dev', 'lan0']);
    ip('gw', ['route', 'add', '10.61.10.0/24', 'via', ADDR.switchWan]);
    ip('sw', ['addr', 'add', `${ADDR.switchLan}/24`, 'dev', 'lan0']);
    ip('sw', ['route', 'add', '10.61.1.0/24', 'via', ADDR.gwWan]);
    ip('origin', ['addr', 'add', `${ADDR.origin}/24`, 'dev', 'eth0']);
    ip('origin', ['route', 'add', 'default', 'via', ADDR.switchLan]);
    ip('replica', ['route', 'add', '10.61.1.0/24', 'via', ADDR.gwWan]);
    ip('rogue', ['route', 'add', '10.61.1.0/24', 'via', ADDR.gwWan]);
    ip('rogue', ['route', 'add', '10.61.10.0/24', 'via', ADDR.switchWan]);
    for (const router of ['gw', 'sw'] as Board[]) {
      run(router, ['sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=1', 'net.ipv4.conf.default.rp_filter=1']);
    }
  } catch (err) {
    lab.destroy();
    throw err;
  }
  return lab;
}

export const addr = (text: string): number => parseIp(text)!;

export type Configuration = 'A' | 'B' | 'C';

export const CONTROL = { address: '127.0.0.1', port: 9180, token: 'srsec-test-token-0123456789' };

/** A role's counters through the agent's control API (inside the board's namespace). */
export function countersOf(lab: ProtocolLab, board: Board, role: string): Record<string, unknown> {
  const out = lab.run(board, ['curl', '-sf', '-H', `Authorization: Bearer ${CONTROL.token}`, `http://${CONTROL.address}:${CONTROL.port}/counters`]);
  return (JSON.parse(out) as Record<string, Record<string, unknown>>)[role];
}

export interface EntryReading {
  client: string;
  state: string;
  winner: string | null;
  path: 'agent' | 'kernel';
  via: string;
  kernelPackets: { toServer: number; toClient: number };
  finFromServer: boolean;
}

export function tableOf(lab: ProtocolLab, board: Board): { size: number; entries: EntryReading[]; counters: Record<string, number> } {
  return JSON.parse(lab.run(board, ['curl', '-sf', '-H', `Authorization: Bearer ${CONTROL.token}`, `http://${CONTROL.address}:${CONTROL.port}/table`]));
}

/** The kernel path is on, as a lab's topology has it by default: attacks meet the classifiers too. */
/** `winnerCache`: the gateway's, sending start packets from its WAN address where it tunnels them (B, C). */
export function gatewayConfig(configuration: Configuration, options: { kernelPath?: boolean; table?: Record<string, number>; winnerCache?: { ttlMs: number; maxEntries: number; deadlineSlackMs: number } } = {}): unknown {
  return {
    board: 'gw',
    control: CONTROL,
    roles: {
      'client-gateway': {
        lanInterface: 'lan0', wanInterface: 'wan0', webPorts: WEB_PORTS, configuration, maxMss: 1440,
        localAddresses: [ADDR.gwLan, ADDR.gwWan], candidates: [{ server: ADDR.origin, replicas: [ADDR.replica] }],
        kernelPath: options.kernelPath ?? true, table: options.table ?? {},
        ...(options.winnerCache ? { winnerCache: { ...options.winnerCache, tunnelSource: ADDR.gwWan } } : {}),
      },
    },
  };
}

export function switchConfig(winner: 'origin' | 'replica', fanOutLimit?: { rate: number; burst: number }): unknown {
  return { board: 'sw', control: CONTROL, roles: { 'server-switch': switchRole(winner, fanOutLimit) } };
}

/** `winner`: the synchronized race's holds make that candidate answer first. The kernel path is on, as in a lab. */
export function switchRole(winner: 'origin' | 'replica', fanOutLimit = { rate: 100, burst: 100 }): unknown {
  const slow = 300;
  return {
    wanInterface: 'wan0', switchAddress: ADDR.switchWan, webPorts: WEB_PORTS,
    origins: [{ address: ADDR.origin, replicas: [ADDR.replica], replicatablePorts: [80] }],
    raceMode: 'synchronized',
    holdMs: { [ADDR.origin]: winner === 'origin' ? 0 : slow, [ADDR.replica]: winner === 'replica' ? 0 : slow },
    holdBudgetMs: slow, gateways: [ADDR.gwWan], fanOutLimit, kernelPath: true,
  };
}

/** The kernel path is on, as a lab's topology has it by default (configuration C's replica carries its tunnel there). */
export function replicaConfig(configuration: Configuration, options: { kernelPath?: boolean } = {}): unknown {
  return {
    board: 'replica',
    control: CONTROL,
    roles: { replica: { ownAddress: ADDR.replica, serverAddresses: [ADDR.origin], configuration, busyLoad: 50, switchAddresses: [ADDR.switchWan], kernelPath: options.kernelPath ?? true } },
  };
}
