// A small eBPF assembler: the kernel path's two programs are written with it, in TypeScript, so a board
// needs no clang (and the agent bundle no object file) to load them. Encodings are the kernel's
// (Documentation/bpf/standardization/instruction-set.rst); jumps go to labels resolved at the end.

export type Register = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;
export type Size = 1 | 2 | 4 | 8;
export type AluOp = 'add' | 'sub' | 'or' | 'and' | 'lsh' | 'rsh' | 'xor' | 'mov';
export type JumpOp = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le' | 'sgt' | 'sle' | 'set';

const ALU_OPS: Record<AluOp, number> = { add: 0x00, sub: 0x10, or: 0x40, and: 0x50, lsh: 0x60, rsh: 0x70, xor: 0xa0, mov: 0xb0 };
const JUMP_OPS: Record<JumpOp, number> = { eq: 0x10, gt: 0x20, ge: 0x30, set: 0x40, ne: 0x50, sgt: 0x60, lt: 0xa0, le: 0xb0, sle: 0xd0 };
const SIZES: Record<Size, number> = { 4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18 };
const CLASS = { ld: 0x00, ldx: 0x01, st: 0x02, stx: 0x03, alu: 0x04, jmp: 0x05, jmp32: 0x06, alu64: 0x07 } as const;
const MEM = 0x60;
const ATOMIC = 0xc0;
/** BPF_CMPXCHG with BPF_FETCH. */
const CMPXCHG = 0xf1;
const SRC_REG = 0x08;
const END = 0xd0;
const TO_BE = 0x08;
const PSEUDO_MAP_FD = 1;

/** The frame pointer: read-only, the stack lies below it. */
export const FP: Register = 10;

interface Instruction {
  code: number;
  dst: Register;
  src: Register;
  off: number;
  imm: number;
  /** A jump to this label, resolved by assemble(). */
  target?: string;
}

export class BpfAssembler {
  private readonly code: Instruction[] = [];
  private readonly labels = new Map<string, number>();

  label(name: string): this {
    if (this.labels.has(name)) throw new Error(`bpf assembler: label ${name} defined twice`);
    this.labels.set(name, this.code.length);
    return this;
  }

  /** Whether any jump so far goes to `name`: the verifier refuses code no path reaches. */
  isJumpedTo(name: string): boolean {
    return this.code.some((insn) => insn.target === name);
  }

  /** dst op= imm (64-bit). */
  aluImm(op: AluOp, dst: Register, imm: number): this {
    return this.emit(CLASS.alu64 | ALU_OPS[op], dst, 0, 0, imm);
  }

  /** dst op= src (64-bit). */
  aluReg(op: AluOp, dst: Register, src: Register): this {
    return this.emit(CLASS.alu64 | ALU_OPS[op] | SRC_REG, dst, src, 0, 0);
  }

  /** dst op= src in 32 bits, the upper half cleared: serial-number arithmetic of TCP. */
  alu32Reg(op: AluOp, dst: Register, src: Register): this {
    return this.emit(CLASS.alu | ALU_OPS[op] | SRC_REG, dst, src, 0, 0);
  }

  mov(dst: Register, imm: number): this {
    return this.aluImm('mov', dst, imm);
  }

  movReg(dst: Register, src: Register): this {
    return this.aluReg('mov', dst, src);
  }

  /** Network byte order to host order (and back): a swap on a little-endian machine. */
  networkToHost(dst: Register, bits: 16 | 32): this {
    return this.emit(CLASS.alu | END | TO_BE, dst, 0, 0, bits);
  }

  load(size: Size, dst: Register, base: Register, off: number): this {
    return this.emit(CLASS.ldx | MEM | SIZES[size], dst, base, off, 0);
  }

  store(size: Size, base: Register, off: number, src: Register): this {
    return this.emit(CLASS.stx | MEM | SIZES[size], base, src, off, 0);
  }

  /** *(base + off) += src, atomically (other CPUs run the same program). */
  atomicAdd(size: 4 | 8, base: Register, off: number, src: Register): this {
    return this.emit(CLASS.stx | ATOMIC | SIZES[size], base, src, off, 0);
  }

  /**
   * r0 = *(base + off); if r0 was `expected` (r0 on entry), *(base + off) = src: one 64-bit compare and
   * exchange, so two CPUs cannot both take the same state.
   */
  compareExchange(base: Register, off: number, src: Register): this {
    return this.emit(CLASS.stx | ATOMIC | SIZES[8], base, src, off, CMPXCHG);
  }

  storeImm(size: Size, base: Register, off: number, imm: number): this {
    return this.emit(CLASS.st | MEM | SIZES[size], base, 0, off, imm);
  }

  /** A map's fd as the 64-bit immediate the verifier turns into the map's address. */
  loadMap(dst: Register, mapFd: number): this {
    this.emit(CLASS.ld | 0x18, dst, PSEUDO_MAP_FD, 0, mapFd);
    return this.emit(0, 0, 0, 0, 0);
  }

  /** A 64-bit constant (an immediate is 32 bits, sign-extended). */
  loadImm64(dst: Register, value: bigint): this {
    const bits = BigInt.asUintN(64, value);
    this.emit(CLASS.ld | 0x18, dst, 0, 0, Number(BigInt.asIntN(32, bits)));
    return this.emit(0, 0, 0, 0, Number(BigInt.asIntN(32, bits >> 32n)));
  }

  jumpImm(op: JumpOp, dst: Register, imm: number, target: string): this {
    return this.emit(CLASS.jmp | JUMP_OPS[op], dst, 0, 0, imm, target);
  }

  jumpReg(op: JumpOp, dst: Register, src: Register, target: string): this {
    return this.emit(CLASS.jmp | JUMP_OPS[op] | SRC_REG, dst, src, 0, 0, target);
  }

  /** A comparison of the low 32 bits (signed ops read them as s32). */
  jump32Imm(op: JumpOp, dst: Register, imm: number, target: string): this {
    return this.emit(CLASS.jmp32 | JUMP_OPS[op], dst, 0, 0, imm, target);
  }

  goto(target: string): this {
    return this.emit(CLASS.jmp, 0, 0, 0, 0, target);
  }

  call(helper: number): this {
    return this.emit(CLASS.jmp | 0x80, 0, 0, 0, helper);
  }

  exit(): this {
    return this.emit(CLASS.jmp | 0x90, 0, 0, 0, 0);
  }

  assemble(): Buffer {
    const out = Buffer.alloc(this.code.length * 8);
    this.code.forEach((insn, at) => {
      let off = insn.off;
      if (insn.target !== undefined) {
        const to = this.labels.get(insn.target);
        if (to === undefined) throw new Error(`bpf assembler: no label ${insn.target}`);
        off = to - at - 1;
      }
      out[at * 8] = insn.code;
      out[at * 8 + 1] = (insn.src << 4) | insn.dst;
      out.writeInt16LE(off, at * 8 + 2);
      out.writeInt32LE(insn.imm | 0, at * 8 + 4);
    });
    return out;
  }

  private emit(code: number, dst: Register, src: Register, off: number, imm: number, target?: string): this {
    this.code.push({ code, dst, src, off, imm, ...(target === undefined ? {} : { target }) });
    return this;
  }
}
