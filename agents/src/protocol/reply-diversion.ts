// Configurations B and C shape what the replica's own stack sends (encapsulated,
// or spoofing the server), so those packets are routed into a TUN device the
// agent reads, by a policy rule; the agent's own sends carry a mark that keeps
// them on the main table.
import { execFileSync } from 'node:child_process';

export const AGENT_MARK = 0x5352;
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
}

function remove(d: ReplyDiversion): void {
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
  ip(['rule', 'add', 'pref', DIVERT_RULE_PREF, ...d.selector, 'lookup', TABLE]);
  return () => remove(d);
}
