import { strict as assert } from 'node:assert';
import { BpfAssembler } from '../src/kernel-path/bpf-assembler';

/** The instructions as hex, 8 bytes each. */
const hex = (code: Buffer): string[] => Array.from({ length: code.length / 8 }, (_, i) => code.subarray(i * 8, i * 8 + 8).toString('hex'));

describe('BpfAssembler: the kernel path\'s eBPF encodings', () => {
  it('encodes as the kernel\'s instruction set says (Documentation/bpf/standardization/instruction-set.rst)', () => {
    const code = new BpfAssembler()
      .mov(0, -1) // r0 = -1
      .movReg(6, 1) // r6 = r1
      .load(4, 2, 6, 8) // r2 = *(u32 *)(r6 + 8)
      .store(2, 10, -82, 3) // *(u16 *)(r10 - 82) = r3
      .storeImm(2, 10, -116, 0x0440) // *(u16 *)(r10 - 116) = 0x440
      .networkToHost(0, 32) // r0 = be32 r0
      .alu32Reg('sub', 2, 1) // w2 -= w1
      .atomicAdd(8, 0, 0, 1) // lock *(u64 *)(r0 + 0) += r1
      .call(26) // bpf_skb_load_bytes
      .exit()
      .assemble();
    assert.deepEqual(hex(code), [
      'b7000000ffffffff',
      'bf16000000000000',
      '6162080000000000',
      '6b3aaeff00000000',
      '6a0a8cff40040000',
      'dc00000020000000',
      '1c12000000000000',
      'db10000000000000',
      '850000001a000000',
      '9500000000000000',
    ]);
  });

  it('resolves jumps to labels forwards and backwards, and takes a map fd in two slots', () => {
    const code = new BpfAssembler()
      .label('top')
      .jumpImm('ne', 0, 0x45, 'out')
      .loadMap(1, 7)
      .jump32Imm('sle', 2, 0, 'top')
      .label('out')
      .exit()
      .assemble();
    assert.deepEqual(hex(code), [
      '5500030045000000', // to 'out': 3 instructions on
      '1811000007000000', // ld_imm64 r1, map fd 7 (src 1: BPF_PSEUDO_MAP_FD)
      '0000000000000000',
      'd602fcff00000000', // back to 'top': -4
      '9500000000000000',
    ]);
  });

  it('refuses a label defined twice or jumped to but never defined', () => {
    assert.throws(() => new BpfAssembler().label('x').label('x'), /label x defined twice/);
    assert.throws(() => new BpfAssembler().goto('nowhere').exit().assemble(), /no label nowhere/);
  });

  it('says whether anything jumps to a label, so no unreachable ending is emitted', () => {
    const a = new BpfAssembler().jumpImm('eq', 0, 0, 'next');
    assert.equal(a.isJumpedTo('next'), true);
    assert.equal(a.isJumpedTo('drop'), false);
  });
});
