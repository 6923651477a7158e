// Forwarding decisions of a transparent learning Ethernet switch: learn each
// source MAC's port, send known unicast to that port, flood the rest.
// No ageing: a station that moves is re-learned from its next frame.

const ETH_HEADER_BYTES = 14;
const NONE: readonly number[] = [];

export class LearningSwitch {
  private readonly portOfMac = new Map<number, number>();
  // Egress lists are preallocated so the per-frame path allocates nothing.
  private readonly floodFrom: readonly number[][];
  private readonly onlyTo: readonly number[][];

  constructor(portCount: number) {
    const ports = Array.from({ length: portCount }, (_, i) => i);
    this.floodFrom = ports.map((ingress) => ports.filter((p) => p !== ingress));
    this.onlyTo = ports.map((p) => [p]);
  }

  /** Learns from a frame received on `ingress` and returns the ports it must leave by. */
  egressPorts(ingress: number, frame: Buffer): readonly number[] {
    if (frame.length < ETH_HEADER_BYTES) return NONE;
    // Group bit set: broadcast/multicast destination, or an invalid source.
    if ((frame[6] & 1) === 0) this.portOfMac.set(frame.readUIntBE(6, 6), ingress);
    if ((frame[0] & 1) !== 0) return this.floodFrom[ingress];
    const port = this.portOfMac.get(frame.readUIntBE(0, 6));
    if (port === undefined) return this.floodFrom[ingress];
    // Destination is on the segment the frame came from: it has already arrived.
    return port === ingress ? NONE : this.onlyTo[port];
  }
}
