// An AF_PACKET socket that sees and sends whole Ethernet frames on one
// interface of the caller's network namespace.
import { monotonicNs, RealtimeToMonotonic } from './clock';
import * as libc from './libc';
import { watchReadable } from './readiness';

export interface PacketSocketOptions {
  /** Kernel receive buffer; bursts arriving while the event loop is busy wait here. */
  rcvbufBytes?: number;
  /** Kernel send buffer; frames sent back to back are charged to it until the device takes them. */
  sndbufBytes?: number;
}

export interface PacketSocket {
  readonly ifname: string;
  readonly ifindex: number;
  /**
   * Starts delivery; each frame is a private copy the callback may keep.
   * `rxNs` is when the kernel received it (CLOCK_MONOTONIC ns), unaffected by
   * how long the event loop took to get to it.
   */
  onFrame(cb: (frame: Buffer, rxNs: number) => void): void;
  /** Returns false when the kernel has no room (frame dropped); throws on other failures. */
  send(frame: Buffer): boolean;
  close(): void;
}

const DEFAULT_BUFFER_BYTES = 8 * 1024 * 1024;
// Largest frame a Linux device hands to a packet socket without GSO/GRO.
const MAX_FRAME_BYTES = 65536;
// Frames handled per readiness event, so a flood cannot starve timers.
const DRAIN_BUDGET = 512;

// recvmsg scratch layout (LP64): struct msghdr, one iovec, cmsg space, frame.
const MSG_IOV = 16;
const MSG_IOVLEN = 24;
const MSG_CONTROL = 32;
const MSG_CONTROLLEN = 40;
const IOV_AT = 56;
const CONTROL_AT = 72;
const CONTROL_BYTES = 64;
const FRAME_AT = CONTROL_AT + CONTROL_BYTES;
// struct cmsghdr: cmsg_len (size_t), cmsg_level, cmsg_type, then data.
const CMSG_LEVEL = 8;
const CMSG_TYPE = 12;
const CMSG_DATA = 16;

/** Preallocated recvmsg arguments with room for one frame and its SO_TIMESTAMPNS. */
function rxScratch(): libc.NativeBlock {
  const block = libc.allocNative(FRAME_AT + MAX_FRAME_BYTES);
  const b = block.bytes;
  b.writeBigUInt64LE(block.address + BigInt(IOV_AT), MSG_IOV);
  b.writeBigUInt64LE(1n, MSG_IOVLEN);
  b.writeBigUInt64LE(block.address + BigInt(CONTROL_AT), MSG_CONTROL);
  b.writeBigUInt64LE(block.address + BigInt(FRAME_AT), IOV_AT);
  b.writeBigUInt64LE(BigInt(MAX_FRAME_BYTES), IOV_AT + 8);
  return block;
}

function sockaddrLl(ifindex: number): Buffer {
  const addr = Buffer.alloc(20); // struct sockaddr_ll
  addr.writeUInt16LE(libc.AF_PACKET, 0);
  addr.writeUInt16BE(libc.ETH_P_ALL, 2);
  addr.writeInt32LE(ifindex, 4);
  return addr;
}

export function openPacketSocket(ifname: string, opts: PacketSocketOptions = {}): PacketSocket {
  const ifindex = libc.ifNameToIndex(ifname);
  if (ifindex === 0) {
    const err = libc.sysError('if_nametoindex', ifname);
    err.message = `interface '${ifname}' not found in this network namespace`;
    throw err;
  }
  // Protocol 0 receives nothing until bind() names the interface, so no
  // frame from another interface can slip in between.
  const fd = libc.socket(libc.AF_PACKET, libc.SOCK_RAW | libc.SOCK_NONBLOCK | libc.SOCK_CLOEXEC, 0);
  if (fd < 0) throw libc.sysError('socket', `AF_PACKET on ${ifname}`);
  try {
    libc.setIntOption(fd, libc.SOL_SOCKET, libc.SO_RCVBUFFORCE, opts.rcvbufBytes ?? DEFAULT_BUFFER_BYTES, 'SO_RCVBUFFORCE');
    libc.setIntOption(fd, libc.SOL_SOCKET, libc.SO_SNDBUFFORCE, opts.sndbufBytes ?? DEFAULT_BUFFER_BYTES, 'SO_SNDBUFFORCE');
    // Without this, every frame we send would come back to us as received.
    libc.setIntOption(fd, libc.SOL_PACKET, libc.PACKET_IGNORE_OUTGOING, 1, 'PACKET_IGNORE_OUTGOING');
    libc.setIntOption(fd, libc.SOL_SOCKET, libc.SO_TIMESTAMPNS, 1, 'SO_TIMESTAMPNS');
    if (libc.bind(fd, sockaddrLl(ifindex), 20) < 0) throw libc.sysError('bind', ifname);
  } catch (err) {
    libc.close(fd);
    throw err;
  }

  const scratch = rxScratch();
  const rx = scratch.bytes;
  const clock = new RealtimeToMonotonic();
  let unwatch: (() => void) | undefined;
  let closed = false;

  const receiveTime = (): number => {
    const controlLen = Number(rx.readBigUInt64LE(MSG_CONTROLLEN));
    if (controlLen >= CMSG_DATA + 16 && rx.readInt32LE(CONTROL_AT + CMSG_LEVEL) === libc.SOL_SOCKET &&
        rx.readInt32LE(CONTROL_AT + CMSG_TYPE) === libc.SO_TIMESTAMPNS) {
      const ts = CONTROL_AT + CMSG_DATA;
      return clock.toMonotonicNs(Number(rx.readBigInt64LE(ts)), Number(rx.readBigInt64LE(ts + 8)));
    }
    return monotonicNs();
  };

  const drain = (deliver: (frame: Buffer, rxNs: number) => void): void => {
    clock.refresh();
    for (let i = 0; i < DRAIN_BUDGET && !closed; i++) {
      // The kernel shrinks msg_controllen to what it wrote; restore it.
      rx.writeBigUInt64LE(BigInt(CONTROL_BYTES), MSG_CONTROLLEN);
      const n = libc.recvmsg(fd, scratch.pointer, libc.MSG_DONTWAIT);
      if (n < 0) {
        const code = libc.errno();
        // ENETDOWN is reported once when the link goes down; the socket stays usable.
        if (code === libc.EAGAIN || code === libc.ENETDOWN) return;
        throw libc.sysError('recvmsg', ifname);
      }
      const frame = Buffer.allocUnsafe(n);
      rx.copy(frame, 0, FRAME_AT, FRAME_AT + n);
      deliver(frame, receiveTime());
    }
  };

  return {
    ifname,
    ifindex,
    onFrame(cb) {
      if (closed) throw new Error(`packet socket on ${ifname} is closed`);
      unwatch?.();
      unwatch = watchReadable(fd, () => drain(cb));
    },
    send(frame) {
      if (closed) throw new Error(`packet socket on ${ifname} is closed`);
      if (libc.send(fd, frame, frame.length, libc.MSG_DONTWAIT) >= 0) return true;
      const code = libc.errno();
      if (code === libc.EAGAIN || code === libc.ENOBUFS) return false;
      throw libc.sysError('send', ifname);
    },
    close() {
      if (closed) return;
      closed = true;
      unwatch?.();
      libc.close(fd);
      scratch.free();
    },
  };
}
