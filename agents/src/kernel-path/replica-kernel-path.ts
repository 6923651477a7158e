// The replica's kernel path: its classifiers on the WAN interface (all: switches' start packets; C: both
// ends of the tunnel; B: the answers as the server's) and the small map that says whether ingress carries
// and takes start packets, and counts what each did.
// Like the gateway's, the links belong to this process and go with it.
import { execFileSync } from 'node:child_process';
import { attachTcx, loadClassifier } from '../io/bpf';
import { close, ifNameToIndex } from '../io/libc';
import { interfaceMtu } from '../io/net-interface';
import { ipToString } from '../packet';
import { REPLICA_SLOT_COUNT, REPLICA_SLOTS, spoofProgram, startInProgram, tunnelInProgram, tunnelOutProgram } from './replica-programs';
import { SlotArray } from './slot-array';

export interface ReplicaKernelPathDump {
  carrying: boolean;
  /** Whether ingress takes switches' start packets (not while busy or dead). */
  starting: boolean;
  /** Switches' start packets the ingress classifier handed to the stack, with no agent woken. */
  startsAnswered: number;
  /** Client segments the ingress classifier took out of their tunnel. */
  decapsulated: number;
  /** Stack packets the egress classifier tunnelled to their client (C: all of them; B: SYN+ACKs). */
  encapsulated: number;
  /** B: stack packets that left with the server's address. */
  spoofed: number;
}

export class ReplicaKernelPath {
  private constructor(private readonly slots: SlotArray, private readonly fds: number[], readonly wanInterface: string) {}

  /** B: `webPort` is the port whose answers speak as the server. */
  static open(configuration: 'A' | 'B' | 'C', ownAddress: number, serverAddresses: number[], switchAddresses: number[], webPort: number): ReplicaKernelPath {
    const wanInterface = interfaceWith(ownAddress);
    const slots = SlotArray.create('synrace_replica', REPLICA_SLOT_COUNT);
    const fds: number[] = [];
    try {
      const options = { stateMapFd: slots.fd, ownAddress, serverAddresses, wanMtu: interfaceMtu(wanInterface) };
      const index = ifNameToIndex(wanInterface);
      const attach = (name: string, program: Buffer, direction: 'ingress' | 'egress') => {
        const fd = loadClassifier(name, program);
        fds.push(fd);
        fds.push(attachTcx(fd, index, direction));
      };
      attach('synrace_start_in', startInProgram({ ...options, configuration, switchAddresses }), 'ingress');
      if (configuration === 'C') {
        attach('synrace_tun_in', tunnelInProgram(options), 'ingress');
        attach('synrace_tun_out', tunnelOutProgram(options), 'egress');
      } else if (configuration === 'B') {
        attach('synrace_spoof', spoofProgram({ ...options, webPort }), 'egress');
      }
    } catch (err) {
      fds.forEach((fd) => close(fd));
      slots.close();
      throw err;
    }
    const path = new ReplicaKernelPath(slots, fds, wanInterface);
    path.setCarrying(true);
    return path;
  }

  /** Off: every client segment goes to the agent (a replica playing dead drops them there). */
  setCarrying(on: boolean): void {
    this.slots.write(REPLICA_SLOTS.carrying, on ? 1n : 0n);
  }

  /** Off: every start packet goes to the agent (a busy or dead replica drops and counts them there). */
  setStarting(on: boolean): void {
    this.slots.write(REPLICA_SLOTS.starting, on ? 1n : 0n);
  }

  dump(): ReplicaKernelPathDump {
    return {
      carrying: this.slots.read(REPLICA_SLOTS.carrying) !== 0,
      starting: this.slots.read(REPLICA_SLOTS.starting) !== 0,
      startsAnswered: this.slots.read(REPLICA_SLOTS.startsAnswered),
      decapsulated: this.slots.read(REPLICA_SLOTS.decapsulated),
      encapsulated: this.slots.read(REPLICA_SLOTS.encapsulated),
      spoofed: this.slots.read(REPLICA_SLOTS.spoofed),
    };
  }

  close(): void {
    this.fds.forEach((fd) => close(fd));
    this.slots.close();
  }
}

/** The interface that holds the replica's own address: its WAN. */
function interfaceWith(address: number): string {
  const line = execFileSync('ip', ['-o', '-4', 'addr', 'show', 'to', `${ipToString(address)}/32`], { encoding: 'utf8' }).trim().split('\n')[0];
  const name = /^\d+:\s+(\S+)/.exec(line ?? '')?.[1];
  if (!name) throw new Error(`no interface holds the replica's own address ${ipToString(address)}`);
  return name;
}
