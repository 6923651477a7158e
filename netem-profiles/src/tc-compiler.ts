import { addressOf } from './ipv4';
import { pathBetween, type DelayProfile, type PathSpec } from './profile';
import type { Board, Topology } from './topology';
import { boardsAt, findBoard, interfaceOn } from './topology-queries';

export interface TcTreeOptions {
  /** Default: the board's wan interface. */
  device?: string;
  /** false: classes and filters only, for kernels without sch_netem (and for testing the tree). */
  netem: boolean;
}

/** Ceiling for paths the profile does not rate-limit: above any Raspberry Pi NIC, so it never shapes. */
const UNSHAPED_MBIT = 1000;
/** Unclassified traffic (management, ARP, same-site) goes here, unshaped and undelayed. */
const DEFAULT_CLASS_MINOR = 1;
const FIRST_SITE_CLASS_MINOR = 0x10;
const NETEM_DEFAULT_LIMIT = 1000;
const MTU_BITS = 1500 * 8;
const ETHERNET_FRAME_BYTES = 1514;

/**
 * The egress tree that makes `boardName` apply the profile's delays to what it
 * sends, as tc argv lists (without the leading "tc"):
 *
 *   root htb 1: (default -> 1:1, unshaped)
 *     1:<n> per other site, rate = path rate or UNSHAPED_MBIT
 *       netem leaf <n>: with the one-way delay, jitter and loss (when opts.netem)
 *     u32 filters: dst in that site's lan or any of its boards' wan /32s -> 1:<n>
 *
 * Class and handle numbers are hexadecimal to tc, so they are written in hex.
 */
export function compileTcTree(topology: Topology, profile: DelayProfile, boardName: string, opts: TcTreeOptions): string[][] {
  const board = boardNamed(topology, boardName);
  const dev = deviceFor(board, opts.device);
  const commands: string[][] = [
    ['qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'htb', 'default', hex(DEFAULT_CLASS_MINOR)],
    htbClass(dev, DEFAULT_CLASS_MINOR, UNSHAPED_MBIT),
  ];
  topology.sites
    .filter((site) => site.name !== board.site)
    .forEach((site, i) => {
      const minor = FIRST_SITE_CLASS_MINOR + i;
      const path = pathBetween(profile, board.site, site.name);
      commands.push(htbClass(dev, minor, path.rateMbit ?? UNSHAPED_MBIT));
      if (opts.netem) commands.push(netemLeaf(dev, minor, path));
      for (const prefix of sitePrefixes(topology, site.name, site.lan)) {
        commands.push(['filter', 'add', 'dev', dev, 'parent', '1:', 'protocol', 'ip', 'prio', '1',
          'u32', 'match', 'ip', 'dst', prefix, 'flowid', `1:${hex(minor)}`]);
      }
    });
  return commands;
}

/** Removing the root qdisc removes every class, leaf and filter under it. */
export function compileTcTeardown(topology: Topology, boardName: string, opts: { device?: string } = {}): string[][] {
  return [['qdisc', 'del', 'dev', deviceFor(boardNamed(topology, boardName), opts.device), 'root']];
}

/** A tc tree as a shell script; every word the compiler makes is plain, and anything else is refused rather than quoted. */
export function renderTcScript(commands: string[][]): string {
  const lines = commands.map((argv) => ['tc', ...argv].map(plainWord).join(' '));
  return ['#!/bin/sh', 'set -e', ...lines, ''].join('\n');
}

function boardNamed(topology: Topology, name: string): Board {
  const board = findBoard(topology, name);
  if (!board) throw new Error(`topology "${topology.name}" has no board "${name}"`);
  return board;
}

function deviceFor(board: Board, device: string | undefined): string {
  const dev = device ?? interfaceOn(board, 'wan')?.name;
  if (!dev) throw new Error(`board "${board.name}" has no wan interface; say which device to shape`);
  return dev;
}

function hex(n: number): string {
  return n.toString(16);
}

/**
 * The classes never borrow from each other, so quantum only has to be at least
 * one frame; fixing it silences htb's "quantum is big/small" warnings, which
 * its rate/r2q default triggers at both ends of the rate range.
 */
function htbClass(dev: string, minor: number, rateMbit: number): string[] {
  return ['class', 'add', 'dev', dev, 'parent', '1:', 'classid', `1:${hex(minor)}`,
    'htb', 'rate', `${rateMbit}mbit`, 'quantum', String(ETHERNET_FRAME_BYTES)];
}

/**
 * Syntax per tc-netem(8): `delay TIME [JITTER]`, `loss random PERCENT`.
 * The queue must hold a full bandwidth-delay product, or netem's default
 * limit of 1000 packets tail-drops long fat paths and looks like loss.
 */
function netemLeaf(dev: string, minor: number, path: PathSpec): string[] {
  const inFlightSeconds = (path.delayMs + path.jitterMs) / 1000;
  const bdpPackets = Math.ceil(((path.rateMbit ?? UNSHAPED_MBIT) * 1e6 * inFlightSeconds) / MTU_BITS);
  return ['qdisc', 'add', 'dev', dev, 'parent', `1:${hex(minor)}`, 'handle', `${hex(minor)}:`, 'netem',
    'limit', String(Math.max(NETEM_DEFAULT_LIMIT, bdpPackets)),
    'delay', `${path.delayMs}ms`, `${path.jitterMs}ms`,
    'loss', 'random', `${path.lossPct}%`];
}

/** What traffic to a site is addressed to: its LAN, and each of its boards' WAN addresses. */
function sitePrefixes(topology: Topology, site: string, lan: string | undefined): string[] {
  const wanHosts = boardsAt(topology, site).flatMap((b) => {
    const wan = interfaceOn(b, 'wan');
    return wan ? [`${addressOf(wan.address)}/32`] : [];
  });
  return lan ? [lan, ...wanHosts] : wanHosts;
}

function plainWord(arg: string): string {
  if (!/^[A-Za-z0-9_.:%/=@-]+$/.test(arg)) throw new Error(`tc argument ${JSON.stringify(arg)} is not a plain word (an interface name or address with spaces or quotes?)`);
  return arg;
}
