// An nfnetlink_queue client: the kernel hands the agent each packet its NFQUEUE rules select, holds the
// packet's skb meanwhile, and goes on with it when the agent gives a verdict (drop; accept; or repeat
// the hook, e.g. with a mark that keeps the rule from queueing it again), optionally with a new mark and
// rewritten bytes. The kernel keeps routing and filtering; nothing here forwards a packet itself.
//
// Copies: the kernel writes up to RX_BATCH messages per recvmmsg into native memory, and a packet's
// bytes reach the callback as a view of it (no copy), valid until the callback returns. Verdicts are
// collected in a native buffer and go to the kernel in one sendto per drain round; a rewritten packet is
// copied there once. Consecutive plain verdicts of one queue (same verdict, same mark) become one
// NFQNL_MSG_VERDICT_BATCH, unless a held packet could be caught by the batch.
import { readFileSync } from 'node:fs';
import { monotonicNs, RealtimeToMonotonic } from './clock';
import * as libc from './libc';
import { watchReadable } from './readiness';

export const NF_DROP = 0;
export const NF_ACCEPT = 1;
export const NF_REPEAT = 4;

/** A queued packet as the callback sees it; the object is reused for the next packet. */
export interface QueuedPacket {
  queue: number;
  id: number;
  mark: number;
  /** ifindex the packet came in on (0: none). */
  indev: number;
  /** Link-layer source address as a 48-bit number, -1 when the packet carried none. */
  hwSource: number;
  /**
   * The IPv4 packet, a view of the receive memory: valid until the callback returns. It may be rewritten
   * in place and handed back with `verdict(..., payload)`.
   */
  payload: Buffer;
  /**
   * When the packet arrived (CLOCK_MONOTONIC ns): the kernel's receive stamp while some socket keeps
   * stamping on (receive-stamps.ts), else when this process read it.
   */
  receivedNs: number;
}

export interface HeldPacket {
  queue: number;
  id: number;
  mark: number;
}

export interface QueueSpec {
  num: number;
  /** Packets the kernel holds for this queue before it applies the overflow policy. */
  maxLen: number;
  /**
   * Overflow policy: true accepts the packets that do not fit (in the queue or the socket buffer), so a
   * slow agent degrades to plain forwarding; false drops them.
   */
  failOpen: boolean;
}

export interface NfQueueOptions {
  queues: QueueSpec[];
  /** How a packet is handed back untouched: the verdict, and mark bits ORed into its mark. */
  pass: { verdict: number; markBits: number };
  /** Kernel receive buffer of the netlink socket. */
  rcvbufBytes?: number;
  /** Called with an error a packet callback threw (the packet itself is passed). */
  onHandlerError?: (err: Error) => void;
}

export interface NfQueueStats {
  packets: number;
  verdictMessages: number;
  batchMessages: number;
  sends: number;
  handlerErrors: number;
  held: number;
  /** From /proc/net/netfilter/nfnetlink_queue, per queue: waiting, dropped by the queue's length, dropped by the socket buffer. */
  kernel: Record<string, { waiting: number; queueDropped: number; userDropped: number }>;
}

export interface NfQueue {
  onPacket(cb: (p: QueuedPacket) => void): void;
  /** Gives the packet its verdict; `payload` replaces its bytes (any length up to 65535). */
  verdict(p: QueuedPacket, verdict: number, mark?: number, payload?: Buffer): void;
  /** The packet back on the kernel's path, untouched (the `pass` option). */
  pass(p: QueuedPacket): void;
  /** Defers the packet's verdict: the kernel keeps it until `release`. */
  hold(p: QueuedPacket): HeldPacket;
  release(h: HeldPacket, verdict: number, mark?: number): void;
  stats(): NfQueueStats;
  /** Passes every held packet, then unbinds by closing the socket. */
  close(): void;
}

// <linux/netfilter/nfnetlink.h>, <linux/netfilter/nfnetlink_queue.h>, <linux/netlink.h>
const NFNL_SUBSYS_QUEUE = 3;
const NFQNL_MSG_PACKET = 0;
const NFQNL_MSG_VERDICT = 1;
const NFQNL_MSG_CONFIG = 2;
const NFQNL_MSG_VERDICT_BATCH = 3;
const NFQNL_CFG_CMD_BIND = 1;
const NFQA_PACKET_HDR = 1;
const NFQA_VERDICT_HDR = 2;
const NFQA_MARK = 3;
const NFQA_TIMESTAMP = 4;
const NFQA_IFINDEX_INDEV = 5;
const NFQA_HWADDR = 9;
const NFQA_PAYLOAD = 10;
const NFQA_CFG_CMD = 1;
const NFQA_CFG_PARAMS = 2;
const NFQA_CFG_QUEUE_MAXLEN = 3;
const NFQA_CFG_MASK = 4;
const NFQA_CFG_FLAGS = 5;
const NFQA_CFG_F_FAIL_OPEN = 1;
const NFQNL_COPY_PACKET = 2;
const NLMSG_ERROR = 2;
const NLM_F_REQUEST = 1;
const NLM_F_ACK = 4;
const NLMSG_HDRLEN = 16;
const NFGEN_HDRLEN = 4;
const NLA_HDRLEN = 4;
const NLA_TYPE_MASK = 0x3fff;

const RX_BATCH = 32;
// A whole 64 KiB packet plus the message's headers and attributes.
const RX_SLOT_BYTES = 65536 + 1024;
const MMSGHDR_BYTES = 64;
const IOVEC_BYTES = 16;
const RX_SLOTS_AT = RX_BATCH * (MMSGHDR_BYTES + IOVEC_BYTES);
// recvmmsg rounds per readiness event, so a flood cannot starve timers.
const DRAIN_ROUNDS = 8;
const TX_BYTES = 512 * 1024;
const DEFAULT_RCVBUF = 16 * 1024 * 1024;

const align4 = (n: number): number => (n + 3) & ~3;

function sockaddrNl(): Buffer {
  const addr = Buffer.alloc(12); // struct sockaddr_nl, pid 0: the kernel
  addr.writeUInt16LE(libc.AF_NETLINK, 0);
  return addr;
}

/** Reads the kernel's per-queue counters of this network namespace. */
function kernelQueueCounters(): NfQueueStats['kernel'] {
  const out: NfQueueStats['kernel'] = {};
  let text = '';
  try {
    text = readFileSync('/proc/net/netfilter/nfnetlink_queue', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length < 7 || !Number.isFinite(f[0])) continue;
    out[String(f[0])] = { waiting: f[2], queueDropped: f[5], userDropped: f[6] };
  }
  return out;
}

export function openNfQueue(options: NfQueueOptions): NfQueue {
  const fd = libc.socket(libc.AF_NETLINK, libc.SOCK_RAW | libc.SOCK_NONBLOCK | libc.SOCK_CLOEXEC, libc.NETLINK_NETFILTER);
  if (fd < 0) throw libc.sysError('socket', 'AF_NETLINK NETLINK_NETFILTER');
  const rx = libc.allocNative(RX_SLOTS_AT + RX_BATCH * RX_SLOT_BYTES);
  const tx = libc.allocNative(TX_BYTES);
  const rxBytes = rx.bytes;
  const txBytes = tx.bytes;
  const kernel = sockaddrNl();
  let closed = false;
  let unwatch: (() => void) | undefined;
  const cleanup = (): void => {
    unwatch?.();
    libc.close(fd);
    rx.free();
    tx.free();
  };

  for (let i = 0; i < RX_BATCH; i++) {
    const msg = i * MMSGHDR_BYTES;
    const iov = RX_BATCH * MMSGHDR_BYTES + i * IOVEC_BYTES;
    rxBytes.writeBigUInt64LE(rx.address + BigInt(iov), msg + 16); // msg_iov
    rxBytes.writeBigUInt64LE(1n, msg + 24); // msg_iovlen
    rxBytes.writeBigUInt64LE(rx.address + BigInt(RX_SLOTS_AT + i * RX_SLOT_BYTES), iov);
    rxBytes.writeBigUInt64LE(BigInt(RX_SLOT_BYTES), iov + 8);
  }

  const stats = { packets: 0, verdictMessages: 0, batchMessages: 0, sends: 0, handlerErrors: 0 };
  const packet: QueuedPacket = { queue: 0, id: 0, mark: 0, indev: 0, hwSource: -1, payload: rxBytes.subarray(0, 0), receivedNs: 0 };
  const clock = new RealtimeToMonotonic();
  let handled = false;
  let held = 0;
  let seq = 1;
  let txLen = 0;
  // The run of plain verdicts not yet written: one queue, one verdict, one mark, ids up to runLastId.
  let runCount = 0;
  let runQueue = 0;
  let runVerdict = 0;
  let runMark: number | undefined;
  let runLastId = 0;
  let callback: (p: QueuedPacket) => void = (p) => passPacket(p);

  function flushTx(): void {
    if (txLen === 0) return;
    const sent = libc.sendtoNative(fd, tx.pointer, txLen, 0, kernel, 12);
    txLen = 0;
    stats.sends++;
    if (sent < 0 && !closed) throw libc.sysError('sendto', 'nfnetlink_queue verdicts');
  }

  /** Starts a message at txLen (after a flush when it may not fit) and returns where its attributes begin. */
  function beginMessage(type: number, flags: number, queue: number, room: number): number {
    if (txLen + room > TX_BYTES) flushTx();
    const at = txLen;
    txBytes.writeUInt16LE((NFNL_SUBSYS_QUEUE << 8) | type, at + 4);
    txBytes.writeUInt16LE(flags, at + 6);
    txBytes.writeUInt32LE(seq++ >>> 0, at + 8);
    txBytes.writeUInt32LE(0, at + 12);
    txBytes[at + 16] = 0; // AF_UNSPEC
    txBytes[at + 17] = 0; // NFNETLINK_V0
    txBytes.writeUInt16BE(queue, at + 18);
    return at + NLMSG_HDRLEN + NFGEN_HDRLEN;
  }

  function attr(at: number, type: number, length: number): number {
    txBytes.writeUInt16LE(NLA_HDRLEN + length, at);
    txBytes.writeUInt16LE(type, at + 2);
    return at + NLA_HDRLEN;
  }

  function endMessage(start: number, end: number): void {
    txBytes.writeUInt32LE(end - start, start);
    txLen = align4(end);
  }

  function writeVerdict(type: number, queue: number, verdict: number, id: number, mark: number | undefined, payload: Buffer | undefined): void {
    let at = beginMessage(type, NLM_F_REQUEST, queue, 64 + (payload ? align4(payload.length) : 0));
    const start = at - NLMSG_HDRLEN - NFGEN_HDRLEN;
    at = attr(at, NFQA_VERDICT_HDR, 8);
    txBytes.writeUInt32BE(verdict, at);
    txBytes.writeUInt32BE(id >>> 0, at + 4);
    at += 8;
    if (mark !== undefined) {
      at = attr(at, NFQA_MARK, 4);
      txBytes.writeUInt32BE(mark >>> 0, at);
      at += 4;
    }
    if (payload) {
      at = attr(at, NFQA_PAYLOAD, payload.length);
      payload.copy(txBytes, at);
      at = align4(at + payload.length);
    }
    endMessage(start, at);
    if (type === NFQNL_MSG_VERDICT_BATCH) stats.batchMessages++;
    else stats.verdictMessages++;
  }

  function flushRun(): void {
    if (runCount === 0) return;
    writeVerdict(runCount > 1 ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT, runQueue, runVerdict, runLastId, runMark, undefined);
    runCount = 0;
  }

  function verdict(p: QueuedPacket, v: number, mark?: number, payload?: Buffer): void {
    if (handled) throw new Error(`packet ${p.id} of queue ${p.queue} already has a verdict`);
    handled = true;
    if (payload === undefined && held === 0) {
      if (runCount > 0 && runQueue === p.queue && runVerdict === v && runMark === mark) {
        runLastId = p.id;
        runCount++;
        return;
      }
      flushRun();
      runCount = 1;
      runQueue = p.queue;
      runVerdict = v;
      runMark = mark;
      runLastId = p.id;
      return;
    }
    flushRun();
    writeVerdict(NFQNL_MSG_VERDICT, p.queue, v, p.id, mark, payload);
  }

  function passPacket(p: QueuedPacket): void {
    verdict(p, options.pass.verdict, options.pass.markBits === 0 ? undefined : (p.mark | options.pass.markBits) >>> 0);
  }

  /** Fills `packet` from one NFQNL_MSG_PACKET at [at, end); false when it carries no packet header or payload. */
  function readPacket(at: number, end: number): boolean {
    packet.queue = rxBytes.readUInt16BE(at + NLMSG_HDRLEN + 2);
    packet.mark = 0;
    packet.indev = 0;
    packet.hwSource = -1;
    packet.receivedNs = 0;
    let haveHeader = false;
    let havePayload = false;
    for (let a = at + NLMSG_HDRLEN + NFGEN_HDRLEN; a + NLA_HDRLEN <= end;) {
      const len = rxBytes.readUInt16LE(a);
      if (len < NLA_HDRLEN || a + len > end) break;
      const type = rxBytes.readUInt16LE(a + 2) & NLA_TYPE_MASK;
      const v = a + NLA_HDRLEN;
      switch (type) {
        case NFQA_PACKET_HDR:
          packet.id = rxBytes.readUInt32BE(v);
          haveHeader = true;
          break;
        case NFQA_MARK:
          packet.mark = rxBytes.readUInt32BE(v);
          break;
        case NFQA_IFINDEX_INDEV:
          packet.indev = rxBytes.readUInt32BE(v);
          break;
        case NFQA_TIMESTAMP:
          // struct nfqnl_msg_packet_timestamp: CLOCK_REALTIME seconds and microseconds, big-endian.
          packet.receivedNs = clock.toMonotonicNs(Number(rxBytes.readBigUInt64BE(v)), Number(rxBytes.readBigUInt64BE(v + 8)) * 1000);
          break;
        case NFQA_HWADDR:
          if (rxBytes.readUInt16BE(v) === 6) packet.hwSource = rxBytes.readUIntBE(v + 4, 6);
          break;
        case NFQA_PAYLOAD:
          packet.payload = rxBytes.subarray(v, a + len);
          havePayload = true;
          break;
        default:
      }
      a += align4(len);
    }
    // A stamp ahead of now is a clock step since the last refresh: the read time is the better guess.
    const now = monotonicNs();
    if (packet.receivedNs === 0 || packet.receivedNs > now) packet.receivedNs = now;
    return haveHeader && havePayload;
  }

  function deliver(): void {
    stats.packets++;
    handled = false;
    try {
      callback(packet);
    } catch (err) {
      stats.handlerErrors++;
      options.onHandlerError?.(err as Error);
    }
    if (!handled) passPacket(packet);
  }

  /** Handles the messages of one datagram; returns the error of an NLMSG_ERROR answering `waitSeq`, or null. */
  function handleDatagram(start: number, length: number, waitSeq: number): number | null {
    let result: number | null = null;
    for (let at = start; at + NLMSG_HDRLEN <= start + length;) {
      const len = rxBytes.readUInt32LE(at);
      if (len < NLMSG_HDRLEN || at + len > start + length) break;
      const type = rxBytes.readUInt16LE(at + 4);
      if (type === NLMSG_ERROR) {
        // struct nlmsgerr: the error, then the header of the message it answers (its seq 8 bytes in).
        if (rxBytes.readUInt32LE(at + NLMSG_HDRLEN + 4 + 8) === waitSeq) result = -rxBytes.readInt32LE(at + NLMSG_HDRLEN);
      } else if (type === ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET) && readPacket(at, at + len)) {
        deliver();
      }
      at += align4(len);
    }
    return result;
  }

  /** One recvmmsg round; returns how many datagrams it read (0: nothing waiting). */
  function receiveRound(waitSeq: number, onAck: (errno: number) => void): number {
    const n = libc.recvmmsg(fd, rx.pointer, RX_BATCH, libc.MSG_DONTWAIT, null);
    if (n < 0) {
      const code = libc.errno();
      if (code === libc.EAGAIN) return 0;
      // ENOBUFS: the socket buffer overflowed; the kernel counted (and failed open or dropped) those packets.
      if (code === libc.ENOBUFS) return 1;
      throw libc.sysError('recvmmsg', 'nfnetlink_queue');
    }
    if (n > 0) clock.refresh();
    for (let i = 0; i < n && !closed; i++) {
      const length = rxBytes.readUInt32LE(i * MMSGHDR_BYTES + 56);
      const ack = handleDatagram(RX_SLOTS_AT + i * RX_SLOT_BYTES, length, waitSeq);
      if (ack !== null) onAck(ack);
    }
    flushRun();
    flushTx();
    return n;
  }

  /** Sends one configuration message and waits for the kernel's answer, passing packets that arrive meanwhile. */
  function configure(queue: number, fill: (at: number) => number, what: string): void {
    const mySeq = seq;
    const attrs = beginMessage(NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, queue, 256);
    endMessage(attrs - NLMSG_HDRLEN - NFGEN_HDRLEN, fill(attrs));
    flushTx();
    let answer: number | null = null;
    for (let tries = 0; answer === null && tries < 1000; tries++) {
      receiveRound(mySeq, (errno) => (answer = errno));
    }
    if (answer === null) throw new Error(`nfnetlink_queue: no answer to ${what} of queue ${queue}`);
    if (answer !== 0) {
      const err = new Error(`nfnetlink_queue: ${what} of queue ${queue} refused: errno ${answer}${answer === 16 ? ' (EBUSY: another process holds this queue)' : answer === 1 ? ' (EPERM: needs CAP_NET_ADMIN)' : ''}`);
      (err as NodeJS.ErrnoException).errno = answer;
      throw err;
    }
  }

  try {
    libc.setIntOption(fd, libc.SOL_SOCKET, libc.SO_RCVBUFFORCE, options.rcvbufBytes ?? DEFAULT_RCVBUF, 'SO_RCVBUFFORCE');
    libc.setIntOption(fd, libc.SOL_NETLINK, libc.NETLINK_NO_ENOBUFS, 1, 'NETLINK_NO_ENOBUFS');
    if (libc.bind(fd, sockaddrNl(), 12) < 0) throw libc.sysError('bind', 'AF_NETLINK');
    for (const q of options.queues) {
      configure(q.num, (at) => {
        at = attr(at, NFQA_CFG_CMD, 4);
        txBytes[at] = NFQNL_CFG_CMD_BIND;
        txBytes[at + 1] = 0;
        txBytes.writeUInt16BE(0, at + 2);
        return at + 4;
      }, 'bind');
      configure(q.num, (at) => {
        at = attr(at, NFQA_CFG_PARAMS, 5);
        txBytes.writeUInt32BE(0xffff, at);
        txBytes[at + 4] = NFQNL_COPY_PACKET;
        at = align4(at + 5);
        at = attr(at, NFQA_CFG_QUEUE_MAXLEN, 4);
        txBytes.writeUInt32BE(q.maxLen, at);
        at = attr(at + 4, NFQA_CFG_MASK, 4);
        txBytes.writeUInt32BE(NFQA_CFG_F_FAIL_OPEN, at);
        at = attr(at + 4, NFQA_CFG_FLAGS, 4);
        txBytes.writeUInt32BE(q.failOpen ? NFQA_CFG_F_FAIL_OPEN : 0, at);
        return at + 4;
      }, 'parameters');
    }
  } catch (err) {
    closed = true;
    cleanup();
    throw err;
  }

  const heldPackets = new Set<HeldPacket>();
  const noAck = (): void => undefined;

  return {
    onPacket(cb) {
      if (closed) throw new Error('nfqueue is closed');
      callback = cb;
      unwatch?.();
      unwatch = watchReadable(fd, () => {
        for (let round = 0; round < DRAIN_ROUNDS && !closed; round++) {
          if (receiveRound(0, noAck) < RX_BATCH) return;
        }
      });
    },
    verdict,
    pass: passPacket,
    hold(p) {
      if (handled) throw new Error(`packet ${p.id} of queue ${p.queue} already has a verdict`);
      // Plain verdicts written before this one may not be batched past it.
      flushRun();
      handled = true;
      held++;
      const h = { queue: p.queue, id: p.id, mark: p.mark };
      heldPackets.add(h);
      return h;
    },
    release(h, v, mark) {
      if (closed || !heldPackets.delete(h)) return;
      held--;
      flushRun();
      writeVerdict(NFQNL_MSG_VERDICT, h.queue, v, h.id, mark, undefined);
      flushTx();
    },
    stats: () => ({ ...stats, held, kernel: kernelQueueCounters() }),
    close() {
      if (closed) return;
      for (const h of [...heldPackets]) {
        heldPackets.delete(h);
        writeVerdict(NFQNL_MSG_VERDICT, h.queue, options.pass.verdict, h.id, options.pass.markBits === 0 ? undefined : (h.mark | options.pass.markBits) >>> 0, undefined);
      }
      held = 0;
      flushRun();
      flushTx();
      closed = true;
      cleanup();
    },
  };
}
