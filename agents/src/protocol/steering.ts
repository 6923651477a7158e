// The only netfilter the protocol needs: FORWARD rules that take the packets a
// role handles away from the kernel's forwarding (the role receives its copy on
// a packet socket and forwards it itself). Everything else stays kernel-forwarded.
import { execFileSync } from 'node:child_process';

const CHAIN = 'SYNRACE';

/** One steered traffic class, as iptables match arguments (without the jump). */
export type SteeringMatch = string[];

function iptables(args: string[], mayFail = false): boolean {
  try {
    execFileSync('iptables', ['-w', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    return true;
  } catch (err) {
    if (mayFail) return false;
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`iptables ${args.join(' ')}: ${stderr || (err as Error).message}`);
  }
}

/**
 * Installs the matches in a chain of our own, replacing what a previous run (perhaps killed by a
 * power cut) left, and returns the function that removes them again.
 */
export function installSteering(matches: SteeringMatch[]): () => void {
  iptables(['-N', CHAIN], true);
  iptables(['-F', CHAIN]);
  if (!iptables(['-C', 'FORWARD', '-j', CHAIN], true)) iptables(['-I', 'FORWARD', '1', '-j', CHAIN]);
  for (const match of matches) iptables(['-A', CHAIN, ...match, '-j', 'DROP']);
  return () => {
    iptables(['-D', 'FORWARD', '-j', CHAIN], true);
    iptables(['-F', CHAIN], true);
    iptables(['-X', CHAIN], true);
  };
}

export function webPortsMatch(ports: number[], direction: 'dport' | 'sport'): string[] {
  return ['-m', 'multiport', `--${direction}s`, ports.join(',')];
}
