// Configurations B and C shape what the replica's own stack sends (encapsulated,
// or spoofing the server), so those packets are routed into a TUN device the
// agent reads, by a policy rule; the agent's own sends carry a mark that keeps
// them on the main table.
import { execFileSync } from 'node:child_process';
import { iptables, removeChain } from './steering';

export const AGENT_MARK = 0x5352;
/** Set in mangle OUTPUT on what `only` selects; the divert rule then takes just those. */
const DIVERT_MARK = 0x5353;
const ONLY_CHAIN = 'SYNRACE-RP';
const TABLE = String(AGENT_MARK);
const MARK_RULE_PREF = '5351';
const DIVERT_RULE_PREF = '5352';

function ip(args: string[], mayFail = false): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    if (mayFail) return;
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`ip ${args.join(' ')}: ${stderr || (err as Error).message}`);
  }
}

export interface ReplyDiversion {
  tun: string;
  /** `ip rule` selector of the stack's packets to divert, e.g. ['from', '10.10.0.80']. */
  selector: string[];
  /** Addresses the stack must own as local, non-ARPing ones (configuration C: the server's). */
  localAddresses: string[];
  /**
   * Absent: everything the selector takes is diverted. Present: only packets one of these iptables matches
   * (mangle OUTPUT) selects; the rest leaves by the main table (where the kernel path tunnels it).
   */
  only?: string[][];
}

function remove(d: ReplyDiversion): void {
  removeChain('mangle', 'OUTPUT', ONLY_CHAIN);
  ip(['rule', 'del', 'pref', DIVERT_RULE_PREF], true);
  ip(['rule', 'del', 'pref', MARK_RULE_PREF], true);
  ip(['route', 'flush', 'table', TABLE], true);
  for (const a of d.localAddresses) ip(['addr', 'del', `${a}/32`, 'dev', 'lo'], true);
  if (d.localAddresses.length) execFileSync('sysctl', ['-qw', 'net.ipv4.conf.all.accept_local=0']);
}

/** Installs the diversion (replacing a previous run's, which a power cut may have left) and returns its removal. */
export function installReplyDiversion(d: ReplyDiversion): () => void {
  remove(d);
  for (const a of d.localAddresses) ip(['addr', 'add', `${a}/32`, 'dev', 'lo']);
  // Once the server's address is local here, a packet from it counts as a martian and is dropped: that
  // is every copy when the switch is on the origin's own board and fans out from the origin's address.
  if (d.localAddresses.length) execFileSync('sysctl', ['-qw', 'net.ipv4.conf.all.accept_local=1']);
  // LVS direct-routing practice: never answer ARP for an address that lives on lo.
  execFileSync('sysctl', ['-qw', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']);
  ip(['link', 'set', d.tun, 'up']);
  ip(['route', 'replace', 'default', 'dev', d.tun, 'table', TABLE]);
  ip(['rule', 'add', 'pref', MARK_RULE_PREF, 'fwmark', `0x${AGENT_MARK.toString(16)}`, 'lookup', 'main']);
  if (d.only) {
    iptables(['-t', 'mangle', '-N', ONLY_CHAIN]);
    for (const match of d.only) iptables(['-t', 'mangle', '-A', ONLY_CHAIN, ...match, '-j', 'MARK', '--set-xmark', `0x${DIVERT_MARK.toString(16)}/0xffffffff`]);
    iptables(['-t', 'mangle', '-A', 'OUTPUT', '-j', ONLY_CHAIN]);
  }
  const marked = d.only ? ['fwmark', `0x${DIVERT_MARK.toString(16)}`] : [];
  ip(['rule', 'add', 'pref', DIVERT_RULE_PREF, ...d.selector, ...marked, 'lookup', TABLE]);
  return () => remove(d);
}
