// A role's steered traffic: its NFQUEUE queues bound, its chain installed, and per packet the verdicts
// the role may give, in the protocol's terms (pass untouched, pass rewritten, drop).
import { ifNameToIndex } from '../io/libc';
import { NF_DROP, NF_REPEAT, openNfQueue, type HeldPacket, type NfQueue, type QueuedPacket } from '../io/nfqueue';
import { installSteering, type RoleSteering, type SteeringRule } from './steering';

/** What a role sees of a steered packet. */
export interface PacketIn {
  /** The IPv4 packet; valid until the handler returns, and may be rewritten in place. */
  payload: Buffer;
  /** ifindex it came in on. */
  indev: number;
  /** Link-layer source (48 bits), -1 when none. */
  hwSource: number;
  mark: number;
  /** When it arrived (CLOCK_MONOTONIC ns; nfqueue.ts). */
  receivedNs: number;
}

/** How a role answers for the packet in hand; exactly one call per packet. */
export interface Verdicts {
  /** Back on the kernel's path, untouched: routed, filtered and forwarded as without the agent. */
  pass(): void;
  /** Back on the kernel's path with these bytes instead (an in-place rewrite passes the payload itself). */
  rewritten(packet: Buffer): void;
  drop(): void;
}

export interface SteeredQueue {
  onPacket(handler: (p: PacketIn, v: Verdicts) => void): void;
  /** Keeps the packet in hand in the kernel until `release` (the synchronized race holds start packets). */
  hold(): HeldPacket;
  /** Lets a held packet go on, untouched. */
  release(h: HeldPacket): void;
  /** The kernel's and the queue client's own counts, for the control API. */
  counters(): Record<string, number>;
  close(): void;
}

// Start packets may overflow open (a SYN then reaches the origin alone: the protocol's safe fallback), and
// their queue is short, so under a SYN flood a legitimate SYN, and the answers queued behind the flood on
// the same socket, wait at most a few hundred packets' handling (bench/syn-flood.ts at 100k SYN/s into a
// gateway: handshakes 18x slower with 256 packets, 44x with 4096, 1.8x with 64).
// The rest of a translated connection must not leave untranslated, so its overflow is dropped and
// retransmitted, and its queue is long. The clones of start packets a gateway's classifier tagged are as
// short a queue, for the same reason, but overflow dropped: their packet has left already, and a clone
// accepted would leave a second time (its race then has no entry, and the origin's answer still passes).
const START_QUEUE_LENGTH = 64;
const OTHER_QUEUE_LENGTH = 4096;

export function interfaceIndex(ifname: string): number {
  const index = ifNameToIndex(ifname);
  if (index === 0) throw new Error(`interface '${ifname}' not found in this network namespace`);
  return index;
}

export function openSteeredQueue(role: RoleSteering, rules: SteeringRule[], log: (message: string) => void): SteeredQueue {
  const reported = new Set<string>();
  const queue: NfQueue = openNfQueue({
    queues: [
      { num: role.startQueue, maxLen: START_QUEUE_LENGTH, failOpen: true },
      { num: role.otherQueue, maxLen: OTHER_QUEUE_LENGTH, failOpen: false },
      ...(role.cloneQueue ? [{ num: role.cloneQueue.num, maxLen: START_QUEUE_LENGTH, failOpen: false }] : []),
    ],
    pass: { verdict: NF_REPEAT, markBits: role.markBit },
    onHandlerError: (err) => {
      // Counted per packet (the packet is passed); logged once per kind, so a flood cannot flood the console.
      if (reported.has(err.message) || reported.size > 32) return;
      reported.add(err.message);
      log(`${role.chain}: packet handler failed, packet passed: ${err.stack ?? err.message}`);
    },
  });
  let removeSteering: () => void;
  try {
    removeSteering = installSteering(role, rules);
  } catch (err) {
    queue.close();
    throw err;
  }
  let current: QueuedPacket | undefined;
  const verdicts: Verdicts = {
    pass: () => queue.pass(current!),
    rewritten: (packet) => queue.verdict(current!, NF_REPEAT, (current!.mark | role.markBit) >>> 0, packet),
    drop: () => queue.verdict(current!, NF_DROP),
  };
  let closed = false;
  return {
    onPacket(handler) {
      queue.onPacket((p) => {
        current = p;
        handler(p, verdicts);
      });
    },
    hold: () => queue.hold(current!),
    release: (h) => queue.release(h, NF_REPEAT, (h.mark | role.markBit) >>> 0),
    counters() {
      const s = queue.stats();
      const out: Record<string, number> = {
        'queue-packets': s.packets, 'queue-verdict-messages': s.verdictMessages, 'queue-batch-verdicts': s.batchMessages,
        'queue-sends': s.sends, 'queue-handler-errors': s.handlerErrors, 'queue-held': s.held,
      };
      const names = new Map([[role.startQueue, 'start'], [role.otherQueue, 'other'], ...(role.cloneQueue ? [[role.cloneQueue.num, 'clones'] as const] : [])]);
      for (const [num, k] of Object.entries(s.kernel)) {
        const which = names.get(Number(num));
        if (!which) continue;
        out[`kernel-${which}-queue-waiting`] = k.waiting;
        out[`kernel-${which}-queue-overflowed`] = k.queueDropped;
        out[`kernel-${which}-queue-socket-overflowed`] = k.userDropped;
      }
      return out;
    },
    close() {
      if (closed) return;
      closed = true;
      // Rules first: from here on the kernel forwards plainly, then the queue hands back what it holds.
      removeSteering();
      queue.close();
    },
  };
}
