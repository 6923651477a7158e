// Configuration A: a cached start packet comes to a replica addressed to it, plain, straight into its
// stack and past its agent. So while the replica is busy its own filter refuses new connections at its
// service address with a RST, and the client gateway races at once; while it plays dead the filter drops
// them, and the gateway's deadline passes as for a replica powered off. The rule exists only in those
// states, so the start packets the agent injects while it answers races never meet it.
import { iptables, removeChain } from './steering';

export type StartRefusal = 'none' | 'refuse' | 'drop';

const CHAIN = 'SYNRACE-REP';
const TABLE = 'filter';
const HOOK = 'INPUT';

export interface StartRefusalFilter {
  /** Puts the filter in `mode`; nothing happens when it is in it already. */
  set(mode: StartRefusal): void;
  readonly mode: StartRefusal;
  remove(): void;
}

/** Installs an empty filter for `ownAddress` (replacing what a killed agent left) and returns its switch. */
export function installStartRefusal(ownAddress: string): StartRefusalFilter {
  removeChain(TABLE, HOOK, CHAIN);
  iptables(['-t', TABLE, '-N', CHAIN]);
  iptables(['-t', TABLE, '-I', HOOK, '1', '-j', CHAIN]);
  let mode: StartRefusal = 'none';
  return {
    get mode() {
      return mode;
    },
    set(next) {
      if (next === mode) return;
      iptables(['-t', TABLE, '-F', CHAIN]);
      const target = next === 'refuse' ? ['REJECT', '--reject-with', 'tcp-reset'] : ['DROP'];
      if (next !== 'none') iptables(['-t', TABLE, '-A', CHAIN, '-d', `${ownAddress}/32`, '-p', 'tcp', '--syn', '-j', ...target]);
      mode = next;
    },
    remove: () => removeChain(TABLE, HOOK, CHAIN),
  };
}
