// The protocol's steering: each role's own chain in mangle PREROUTING whose rules hand the traffic the
// role handles to its NFQUEUE. The kernel keeps routing and filtering every packet: the agent
// answers each queued one with a verdict, and what it does not own (or owns and rewrote) goes back with
// NF_REPEAT and the role's mark bit, so the hook is run again from the top (the role's chain lets marked
// packets through, clearing the bit) and every other rule of the board, the user's FORWARD rules and
// rp_filter included, applies as if the agent were not there. In PREROUTING a rewritten destination is
// routed afresh. --queue-bypass makes a board whose agent is gone (SIGKILL, crash, power cut of the
// process) forward plainly at once: with no listener on a queue the kernel accepts its packets.
import { execFileSync } from 'node:child_process';

/** One steered traffic class: iptables match arguments and the queue its packets go to. */
export interface SteeringRule {
  match: string[];
  queue: number;
}

/** What each role owns: its chain, its mark bit, its queues (none shared, so roles on one board keep apart). */
export interface RoleSteering {
  chain: string;
  markBit: number;
  /** The queue of start packets (overflow: fail open) and of everything else (overflow: drop). */
  startQueue: number;
  otherQueue: number;
  /**
   * The gateway's: clones its classifiers send the agent, of start packets they tagged and answers that won
   * (overflow: drop, for the packet has left), told apart by a mark bit of their own.
   */
  cloneQueue?: { num: number; markBit: number };
}

/** The gateway's queue of the clones its kernel path sends the agent, and their mark bit. */
export const GATEWAY_CLONES = { num: 21334, markBit: 0x10000000 } as const;
export const GATEWAY_STEERING: RoleSteering = { chain: 'SYNRACE-GW', markBit: 0x40000000, startQueue: 21330, otherQueue: 21331, cloneQueue: GATEWAY_CLONES };
export const SWITCH_STEERING: RoleSteering = { chain: 'SYNRACE-SW', markBit: 0x20000000, startQueue: 21332, otherQueue: 21333 };

/** The FORWARD chain of agents before NFQUEUE (DROP rules): a board upgraded after a power cut may still have it. */
const LEGACY_CHAIN = 'SYNRACE';
const TABLE = 'mangle';
const HOOK = 'PREROUTING';

export function iptables(args: string[], mayFail = false): boolean {
  try {
    execFileSync('iptables', ['-w', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    return true;
  } catch (err) {
    if (mayFail) return false;
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`iptables ${args.join(' ')}: ${stderr || (err as Error).message}`);
  }
}

/** Removes every jump from `chain` of `table` to `target` (a crash may have left several), then the chain. */
export function removeChain(table: string, from: string, target: string): void {
  for (let i = 0; i < 16 && iptables(['-t', table, '-D', from, '-j', target], true); i++);
  iptables(['-t', table, '-F', target], true);
  iptables(['-t', table, '-X', target], true);
}

function passChain(role: RoleSteering): string {
  return `${role.chain}-PASS`;
}

/**
 * Installs the role's chain, replacing whatever a previous run left (a killed agent's chain and queues, the
 * legacy FORWARD chain), and returns the function that removes it again. The chain's rules are replaced in
 * one iptables-restore transaction, so there is no moment with half a rule set.
 */
export function installSteering(role: RoleSteering, rules: SteeringRule[]): () => void {
  removeChain('filter', 'FORWARD', LEGACY_CHAIN);
  const pass = passChain(role);
  const mark = `0x${role.markBit.toString(16)}`;
  iptables(['-t', TABLE, '-N', role.chain], true);
  iptables(['-t', TABLE, '-N', pass], true);
  const restore = [
    `*${TABLE}`,
    `-F ${role.chain}`,
    `-F ${pass}`,
    `-A ${pass} -j MARK --set-xmark 0x0/${mark}`,
    // A packet this role gave back: clear the bit and let the rest of the hook have it (goto: no return here).
    `-A ${role.chain} -m mark --mark ${mark}/${mark} -g ${pass}`,
    ...rules.map((r) => `-A ${role.chain} ${r.match.join(' ')} -j NFQUEUE --queue-num ${r.queue} --queue-bypass`),
    'COMMIT',
    '',
  ].join('\n');
  try {
    execFileSync('iptables-restore', ['-w', '--noflush'], { input: restore, stdio: ['pipe', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`iptables-restore of ${role.chain}: ${stderr || (err as Error).message}`);
  }
  for (let i = 0; i < 16 && iptables(['-t', TABLE, '-D', HOOK, '-j', role.chain], true); i++);
  iptables(['-t', TABLE, '-I', HOOK, '1', '-j', role.chain]);
  return () => {
    removeChain(TABLE, HOOK, role.chain);
    iptables(['-t', TABLE, '-F', pass], true);
    iptables(['-t', TABLE, '-X', pass], true);
  };
}

export function webPortsMatch(ports: number[], direction: 'dport' | 'sport'): string[] {
  return ['-m', 'multiport', `--${direction}s`, ports.join(',')];
}

/** Start packets only: SYN without ACK. */
export const START_PACKET_MATCH = ['--tcp-flags', 'SYN,ACK', 'SYN'];

/** Traffic to the board itself is never the race's. */
export const NOT_LOCAL_MATCH = ['-m', 'addrtype', '!', '--dst-type', 'LOCAL'];
