// The bpf(2) calls the kernel path needs (a hash map, a classifier program, a tcx link), through koffi:
// libc has no wrapper, and a C toolchain that targets BPF is not on a board. Layouts are <linux/bpf.h>'s
// union bpf_attr, the same on x86_64 and aarch64.
import koffi from 'koffi';
import { allocNative, close, errno, sysError, type NativeBlock } from './libc';

const lib = koffi.load('libc.so.6');
const syscall = lib.func('long syscall(long number, int cmd, void *attr, uint32_t size)') as
  (number: number, cmd: number, attr: Buffer, size: number) => number;

const SYS_BPF: Partial<Record<NodeJS.Architecture, number>> = { x64: 321, arm64: 280 };
const ATTR_SIZE = 144;

const BPF_MAP_CREATE = 0;
const BPF_MAP_LOOKUP_ELEM = 1;
const BPF_MAP_UPDATE_ELEM = 2;
const BPF_MAP_DELETE_ELEM = 3;
const BPF_MAP_LOOKUP_AND_DELETE_ELEM = 21;
const BPF_PROG_LOAD = 5;
const BPF_PROG_QUERY = 16;
const BPF_LINK_CREATE = 28;
const MAP_TYPES = { hash: 1, array: 2 } as const;
const BPF_PROG_TYPE_SCHED_CLS = 3;
/** enum bpf_attach_type: tcx (Linux 6.6) is the classifier hook that needs no qdisc and goes with its link. */
const TCX_ATTACH = { ingress: 46, egress: 47 } as const;
const ENOENT = 2;
const VERIFIER_LOG_SIZE = 1 << 20;

export type TcxDirection = keyof typeof TCX_ATTACH;

/** The call's result, or -1 with errno set. */
function bpfCall(cmd: number, attr: Buffer): number {
  const nr = SYS_BPF[process.arch];
  if (nr === undefined) throw new Error(`bpf(2): no syscall number known for ${process.arch}`);
  return syscall(nr, cmd, attr, ATTR_SIZE);
}

function bpf(cmd: number, attr: Buffer, what: string): number {
  const result = bpfCall(cmd, attr);
  if (result < 0) throw sysError('bpf', what);
  return result;
}

/** For element calls: false when the key is not there, any other failure thrown. */
function bpfElement(cmd: number, attr: Buffer, what: string): boolean {
  if (bpfCall(cmd, attr) >= 0) return true;
  if (errno() === ENOENT) return false;
  throw sysError('bpf', what);
}

function name16(attr: Buffer, at: number, name: string): void {
  attr.write(name.slice(0, 15).replace(/[^A-Za-z0-9_.]/g, '_'), at, 'latin1');
}

export type BpfMapType = keyof typeof MAP_TYPES;

/** A BPF map, owned by this process: it goes when its last fd (and program using it) does. */
export class BpfMap {
  private readonly key: NativeBlock;
  private readonly value: NativeBlock;
  private readonly attr = Buffer.alloc(ATTR_SIZE);

  private constructor(readonly fd: number, readonly keySize: number, readonly valueSize: number) {
    this.key = allocNative(keySize);
    this.value = allocNative(valueSize);
  }

  static create(type: BpfMapType, name: string, keySize: number, valueSize: number, maxEntries: number): BpfMap {
    const attr = Buffer.alloc(ATTR_SIZE);
    attr.writeUInt32LE(MAP_TYPES[type], 0);
    attr.writeUInt32LE(keySize, 4);
    attr.writeUInt32LE(valueSize, 8);
    attr.writeUInt32LE(maxEntries, 12);
    name16(attr, 28, name);
    return new BpfMap(bpf(BPF_MAP_CREATE, attr, `map create ${name}`), keySize, valueSize);
  }

  update(key: Buffer, value: Buffer): void {
    key.copy(this.key.bytes);
    value.copy(this.value.bytes);
    this.elementAttr(true);
    bpf(BPF_MAP_UPDATE_ELEM, this.attr, 'map update');
  }

  /** The value under key, copied into `into`; false when there is none. */
  lookup(key: Buffer, into: Buffer): boolean {
    return this.read(BPF_MAP_LOOKUP_ELEM, 'map lookup', key, into);
  }

  /** The value under key, copied into `into` as the kernel removed it, in one step; false when there was none. */
  take(key: Buffer, into: Buffer): boolean {
    return this.read(BPF_MAP_LOOKUP_AND_DELETE_ELEM, 'map lookup and delete', key, into);
  }

  /** False when there was no such key. */
  delete(key: Buffer): boolean {
    key.copy(this.key.bytes);
    this.elementAttr(false);
    return bpfElement(BPF_MAP_DELETE_ELEM, this.attr, 'map delete');
  }

  private read(cmd: number, what: string, key: Buffer, into: Buffer): boolean {
    key.copy(this.key.bytes);
    this.elementAttr(true);
    if (!bpfElement(cmd, this.attr, what)) return false;
    this.value.bytes.copy(into, 0, 0, this.valueSize);
    return true;
  }

  close(): void {
    close(this.fd);
    this.key.free();
    this.value.free();
  }

  private elementAttr(withValue: boolean): void {
    this.attr.fill(0);
    this.attr.writeUInt32LE(this.fd, 0);
    this.attr.writeBigUInt64LE(this.key.address, 8);
    if (withValue) this.attr.writeBigUInt64LE(this.value.address, 16);
  }
}

/** Loads a classifier (tc/tcx) program; a rejection carries the verifier's log. */
export function loadClassifier(name: string, instructions: Buffer): number {
  const insns = allocNative(instructions.length);
  const license = allocNative(8);
  const log = allocNative(VERIFIER_LOG_SIZE);
  try {
    instructions.copy(insns.bytes);
    license.bytes.write('GPL', 'latin1');
    const attr = Buffer.alloc(ATTR_SIZE);
    attr.writeUInt32LE(BPF_PROG_TYPE_SCHED_CLS, 0);
    attr.writeUInt32LE(instructions.length / 8, 4);
    attr.writeBigUInt64LE(insns.address, 8);
    attr.writeBigUInt64LE(license.address, 16);
    attr.writeUInt32LE(1, 24);
    attr.writeUInt32LE(VERIFIER_LOG_SIZE, 28);
    attr.writeBigUInt64LE(log.address, 32);
    name16(attr, 48, name);
    try {
      return bpf(BPF_PROG_LOAD, attr, `load ${name}`);
    } catch (err) {
      const text = log.bytes.subarray(0, log.bytes.indexOf(0)).toString('latin1').trim().split('\n').slice(-12).join('\n');
      throw new Error(`${(err as Error).message}${text ? `\nverifier:\n${text}` : ''}`);
    }
  } finally {
    insns.free();
    license.free();
    log.free();
  }
}

/** Attaches a classifier at an interface's tcx hook; the returned link fd detaches it when closed. */
export function attachTcx(programFd: number, ifindex: number, direction: TcxDirection): number {
  const attr = Buffer.alloc(ATTR_SIZE);
  attr.writeUInt32LE(programFd, 0);
  attr.writeUInt32LE(ifindex, 4);
  attr.writeUInt32LE(TCX_ATTACH[direction], 8);
  return bpf(BPF_LINK_CREATE, attr, `tcx ${direction} link on ifindex ${ifindex}`);
}

/** How many programs sit at an interface's tcx hook (any owner's). */
export function tcxProgramCount(ifindex: number, direction: TcxDirection): number {
  const attr = Buffer.alloc(ATTR_SIZE);
  attr.writeUInt32LE(ifindex, 0);
  attr.writeUInt32LE(TCX_ATTACH[direction], 4);
  bpf(BPF_PROG_QUERY, attr, `tcx ${direction} query on ifindex ${ifindex}`);
  return attr.readUInt32LE(24);
}
