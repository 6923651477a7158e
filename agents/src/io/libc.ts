// Typed koffi bindings to the few libc calls the agents need that Node does
// not expose (packet and raw sockets, timerfd, setns). Only synchronous calls:
// koffi `.async` parks a libuv threadpool thread and can hang process exit.
import koffi from 'koffi';
import { getSystemErrorMap } from 'node:util';

const lib = koffi.load('libc.so.6');

export const socket = lib.func('int socket(int domain, int type, int protocol)') as
  (domain: number, type: number, protocol: number) => number;
export const bind = lib.func('int bind(int fd, const void *addr, uint32_t addrlen)') as
  (fd: number, addr: Buffer, addrlen: number) => number;
export const setsockopt = lib.func(
  'int setsockopt(int fd, int level, int optname, const void *optval, uint32_t optlen)') as
  (fd: number, level: number, optname: number, optval: Buffer, optlen: number) => number;
export const recvmsg = lib.func('intptr_t recvmsg(int fd, void *msg, int flags)') as
  (fd: number, msg: NativePointer, flags: number) => number;
export const send = lib.func('intptr_t send(int fd, const void *buf, size_t len, int flags)') as
  (fd: number, buf: Buffer, len: number, flags: number) => number;
export const sendto = lib.func(
  'intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)') as
  (fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number) => number;
export const recvmmsg = lib.func('int recvmmsg(int fd, void *msgvec, unsigned int vlen, int flags, void *timeout)') as
  (fd: number, msgvec: NativePointer, vlen: number, flags: number, timeout: null) => number;
export const sendtoNative = lib.func(
  'intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)') as
  (fd: number, buf: NativePointer, len: number, flags: number, addr: Buffer, addrlen: number) => number;
export const recv = lib.func('intptr_t recv(int fd, void *buf, size_t len, int flags)') as
  (fd: number, buf: Buffer, len: number, flags: number) => number;
export const ioctl = lib.func('int ioctl(int fd, unsigned long request, void *arg)') as
  (fd: number, request: number, arg: Buffer) => number;
export const write = lib.func('intptr_t write(int fd, const void *buf, size_t len)') as
  (fd: number, buf: Buffer, len: number) => number;
export const read = lib.func('intptr_t read(int fd, void *buf, size_t len)') as
  (fd: number, buf: Buffer, len: number) => number;
export const close = lib.func('int close(int fd)') as (fd: number) => number;
export const ifNameToIndex = lib.func('unsigned int if_nametoindex(const char *ifname)') as
  (ifname: string) => number;
export const timerfdCreate = lib.func('int timerfd_create(int clockid, int flags)') as
  (clockid: number, flags: number) => number;
export const timerfdSettime = lib.func(
  'int timerfd_settime(int fd, int flags, const void *newValue, void *oldValue)') as
  (fd: number, flags: number, newValue: Buffer, oldValue: null) => number;
export const setns = lib.func('int setns(int fd, int nstype)') as
  (fd: number, nstype: number) => number;
export const clockGettime = lib.func('int clock_gettime(int clockid, void *ts)') as
  (clockid: number, ts: Buffer) => number;
const malloc = lib.func('void *malloc(size_t size)') as (size: number) => NativePointer | null;
const free = lib.func('void free(void *ptr)') as (ptr: NativePointer) => void;

/** Opaque koffi pointer to memory outside the JS heap. */
export type NativePointer = { readonly __brand: 'NativePointer' };

/**
 * Memory for structs that hold pointers (msghdr, iovec): the kernel needs
 * stable addresses, which JS Buffers do not expose.
 */
export interface NativeBlock {
  pointer: NativePointer;
  address: bigint;
  /** View of the block without copying. */
  bytes: Buffer;
  free(): void;
}

export function allocNative(size: number): NativeBlock {
  const pointer = malloc(size);
  if (pointer === null) throw new Error(`malloc(${size}) failed`);
  const bytes = Buffer.from(koffi.view(pointer, size));
  bytes.fill(0);
  return { pointer, address: koffi.address(pointer), bytes, free: () => free(pointer) };
}

/** errno of the last failed libc call made through these bindings. */
export function errno(): number {
  return koffi.errno();
}

/** An Error for the last failed call, carrying the errno name in `code`. */
/** setsockopt with an int value; `label` names the option in the error. */
export function setIntOption(fd: number, level: number, name: number, value: number, label: string): void {
  const opt = Buffer.alloc(4);
  opt.writeInt32LE(value);
  if (setsockopt(fd, level, name, opt, 4) < 0) throw sysError('setsockopt', label);
}

export function sysError(call: string, detail = ''): NodeJS.ErrnoException {
  const code = errno();
  const [name, text] = getSystemErrorMap().get(-code) ?? [`errno ${code}`, 'unknown error'];
  const err: NodeJS.ErrnoException = new Error(`${call}${detail ? ` (${detail})` : ''}: ${name} ${text}`);
  err.code = name;
  err.errno = code;
  err.syscall = call;
  return err;
}

// Linux x86_64/aarch64 ABI values (<linux/if_ether.h>, <sys/socket.h>,
// <linux/if_packet.h>, <sys/timerfd.h>, <sched.h>).
export const AF_INET = 2;
export const SO_MARK = 36;
export const TUNSETIFF = 0x400454ca;
export const IFF_TUN = 0x0001;
export const IFF_NO_PI = 0x1000;
export const AF_PACKET = 17;
export const AF_NETLINK = 16;
export const NETLINK_NETFILTER = 12;
export const SOL_NETLINK = 270;
export const NETLINK_NO_ENOBUFS = 5;
export const IPPROTO_IPIP = 4;
export const IPPROTO_RAW = 255;
export const SOCK_RAW = 3;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const ETH_P_ALL = 0x0003;
export const SOL_SOCKET = 1;
export const SO_TIMESTAMPNS = 35;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SOL_PACKET = 263;
export const PACKET_ADD_MEMBERSHIP = 1;
export const PACKET_MR_PROMISC = 1;
export const PACKET_IGNORE_OUTGOING = 23;
export const MSG_DONTWAIT = 0x40;
export const EAGAIN = 11;
export const ENOBUFS = 105;
export const ENETDOWN = 100;
export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;
export const TFD_NONBLOCK = 0o4000;
export const TFD_CLOEXEC = 0o2000000;
export const TFD_TIMER_ABSTIME = 1;
export const CLONE_NEWNET = 0x40000000;
