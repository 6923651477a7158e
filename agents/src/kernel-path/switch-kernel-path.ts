// The switch's kernel path: its fan-out classifier on the WAN interface and the maps it shares with the
// agent (whether the race is plain, which link-layer address is which gateway's, each gateway's bucket and
// counts). Like the gateway's and the replica's, the link belongs to this process and goes with it.
import { attachTcx, BpfMap, loadClassifier } from '../io/bpf';
import { close, ifNameToIndex } from '../io/libc';
import { interfaceMtu } from '../io/net-interface';
import { SlotArray } from './slot-array';
import { BUCKET, fanOutProgram, GATEWAY_KEY_SIZE, SWITCH_SLOT_COUNT, SWITCH_SLOTS, type SwitchOrigin } from './switch-programs';

export interface SwitchKernelPathOptions {
  wanInterface: string;
  switchAddress: number;
  webPorts: number[];
  origins: SwitchOrigin[];
  /** The switch's steering mark: the original it let through passes its chain unqueued. */
  markBit: number;
  /** How many gateways: each is an index into the buckets, in the order of the configuration. */
  gatewayCount: number;
  rate: number;
  burst: number;
}

export interface SwitchKernelPathDump {
  /** The classifier fans out only in the plain race. */
  plain: boolean;
  /** Copies the classifier sent, and copies the kernel would not send. */
  copies: number;
  copyFailures: number;
}

export interface GatewayKernelCounts {
  fannedOut: number;
  overBudget: number;
}

export class SwitchKernelPath {
  private readonly bucketKey = Buffer.alloc(4);
  private readonly bucket = Buffer.alloc(BUCKET.size);
  /** Link-layer address (12 hex digits) -> gateway index, as the gateways map holds it now. */
  private links = new Map<number, number>();

  private constructor(private readonly state: SlotArray, private readonly gateways: BpfMap, private readonly buckets: BpfMap, private readonly fds: number[]) {}

  static open(options: SwitchKernelPathOptions): SwitchKernelPath {
    const maps: Array<BpfMap | SlotArray> = [];
    const fds: number[] = [];
    try {
      const state = SlotArray.create('synrace_switch', SWITCH_SLOT_COUNT);
      maps.push(state);
      const gateways = BpfMap.create('hash', 'synrace_gw_links', GATEWAY_KEY_SIZE, 4, options.gatewayCount);
      maps.push(gateways);
      const buckets = BpfMap.create('array', 'synrace_buckets', 4, BUCKET.size, options.gatewayCount);
      maps.push(buckets);
      const wanIndex = ifNameToIndex(options.wanInterface);
      const program = fanOutProgram({
        stateMapFd: state.fd, gatewayMapFd: gateways.fd, bucketMapFd: buckets.fd, switchAddress: options.switchAddress, wanIndex,
        wanMtu: interfaceMtu(options.wanInterface), webPorts: options.webPorts, origins: options.origins, markBit: options.markBit,
        rate: options.rate, burst: options.burst,
      });
      const fd = loadClassifier('synrace_fan_out', program);
      fds.push(fd);
      fds.push(attachTcx(fd, wanIndex, 'ingress'));
      return new SwitchKernelPath(state, gateways, buckets, fds);
    } catch (err) {
      fds.forEach((fd) => close(fd));
      maps.forEach((m) => m.close());
      throw err;
    }
  }

  setPlain(on: boolean): void {
    this.state.write(SWITCH_SLOTS.plain, on ? 1n : 0n);
  }

  /** Which link-layer address each gateway (by index) has now; the rest leave the map. */
  setGatewayLinks(linkOfGateway: Map<number, number>): void {
    const next = new Map([...linkOfGateway].map(([index, link]) => [link, index]));
    for (const link of this.links.keys()) if (!next.has(link)) this.gateways.delete(linkKey(link));
    const value = Buffer.alloc(4);
    for (const [link, index] of next) {
      if (this.links.get(link) === index) continue;
      value.writeUInt32LE(index);
      this.gateways.update(linkKey(link), value);
    }
    this.links = next;
  }

  gatewayCounts(index: number): GatewayKernelCounts {
    this.bucketKey.writeUInt32LE(index);
    if (!this.buckets.lookup(this.bucketKey, this.bucket)) return { fannedOut: 0, overBudget: 0 };
    return { fannedOut: Number(this.bucket.readBigUInt64LE(BUCKET.fannedOut)), overBudget: Number(this.bucket.readBigUInt64LE(BUCKET.overBudget)) };
  }

  dump(): SwitchKernelPathDump {
    return { plain: this.state.read(SWITCH_SLOTS.plain) !== 0, copies: this.state.read(SWITCH_SLOTS.copies), copyFailures: this.state.read(SWITCH_SLOTS.copyFailures) };
  }

  close(): void {
    this.fds.forEach((fd) => close(fd));
    [this.state, this.gateways, this.buckets].forEach((m) => m.close());
  }
}

/** The map's key: the six bytes of the link-layer address in wire order, then two zero bytes. */
function linkKey(link: number): Buffer {
  const key = Buffer.alloc(GATEWAY_KEY_SIZE);
  key.writeUIntBE(link, 0, 6);
  return key;
}
