// Builds throwaway network namespaces for tests and benchmarks: one WAN
// namespace with a veth port per end namespace, as the orchestrator wires a
// delay-line board. Names are `srt-dl-<tag>-<random>-*`: never anyone else's, nor another run's of the
// same test on the same host.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface EndSpec {
  name: string;
  /** IPv4 address with prefix, e.g. 10.77.0.1/24. */
  cidr: string;
}

export interface End extends EndSpec {
  ns: string;
  /** Interface inside the end namespace. */
  ifname: string;
  mac: string;
  /** The end's port interface inside the WAN namespace. */
  port: string;
}

export interface WanTopology {
  wanNs: string;
  ends: End[];
  destroy(): void;
}

export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a command inside namespace `ns`. */
export function inNs(ns: string, cmd: string, args: string[]): string {
  return run('ip', ['netns', 'exec', ns, cmd, ...args]);
}

function deleteNs(ns: string): void {
  try {
    run('ip', ['netns', 'del', ns]);
  } catch {
    // absent already
  }
}

// Offloads would hand the packet socket partial checksums and >MTU frames.
const OFFLOADS_OFF = ['tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'];

export function createWanTopology(tag: string, specs: EndSpec[]): WanTopology {
  const prefix = `srt-dl-${tag}-${randomBytes(3).toString('hex')}`;
  const wanNs = `${prefix}-w`;
  const ends: End[] = specs.map((s) => ({ ...s, ns: `${prefix}-${s.name}`, ifname: 'eth0', mac: '', port: `p-${s.name}` }));
  const destroy = (): void => {
    for (const ns of [wanNs, ...ends.map((e) => e.ns)]) deleteNs(ns);
  };
  try {
    run('ip', ['netns', 'add', wanNs]);
    // The WAN namespace is a bridge: its own IPv6 chatter would only add noise.
    inNs(wanNs, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    for (const e of ends) {
      run('ip', ['netns', 'add', e.ns]);
      // Nor the ends': a router solicitation would be learnt as a station, and queued, beside a test's frames.
      inNs(e.ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      run('ip', ['-n', e.ns, 'link', 'add', e.ifname, 'type', 'veth', 'peer', 'name', e.port, 'netns', wanNs]);
      run('ip', ['-n', e.ns, 'addr', 'add', e.cidr, 'dev', e.ifname]);
      run('ip', ['-n', e.ns, 'link', 'set', 'lo', 'up']);
      run('ip', ['-n', e.ns, 'link', 'set', e.ifname, 'up']);
      run('ip', ['-n', wanNs, 'link', 'set', e.port, 'up']);
      inNs(e.ns, 'ethtool', ['-K', e.ifname, ...OFFLOADS_OFF]);
      inNs(wanNs, 'ethtool', ['-K', e.port, ...OFFLOADS_OFF]);
      e.mac = macOf(e.ns, e.ifname);
    }
  } catch (err) {
    destroy();
    throw err;
  }
  return { wanNs, ends, destroy };
}

function macOf(ns: string, ifname: string): string {
  const [link] = JSON.parse(run('ip', ['-n', ns, '-j', 'link', 'show', ifname])) as { address: string }[];
  return link.address;
}
