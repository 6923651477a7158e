import { strict as assert } from 'node:assert';
import { clampMss } from '../src/packet/mss';
import { assertChecksumsFresh, buildSegment, kernelPacket, parsed } from './fixtures/packet-helpers';

const clamp = (packet: Buffer, maxMss: number): boolean => clampMss(packet, parsed(packet).tcp, maxMss);

describe('clampMss', () => {
  it("lowers the kernel SYN's MSS 1460 in place, checksum fresh", () => {
    const syn = kernelPacket('syn');
    assert.equal(clamp(syn, 1436), true);
    assert.equal(syn.readUInt16BE(42), 1436);
    assertChecksumsFresh(syn);
  });

  it('leaves an MSS at or below the limit alone, byte for byte', () => {
    const syn = kernelPacket('syn');
    assert.equal(clamp(syn, 1460), false);
    assert.deepEqual(syn, kernelPacket('syn'));
  });

  it('updates the checksum right for an MSS at an odd offset, where the value straddles two words', () => {
    const packet = buildSegment({ options: [1, 2, 4, 0x05, 0xb4, 1, 1, 1] });
    assert.equal(clamp(packet, 1200), true);
    assert.equal(packet.readUInt16BE(43), 1200, 'value at option offset 3: odd');
    assertChecksumsFresh(packet);
  });

  it('clamps every MSS option (receivers honour the last one)', () => {
    const packet = buildSegment({ options: [2, 4, 0x05, 0xb4, 2, 4, 0x23, 0x28] });
    assert.equal(clamp(packet, 1000), true);
    assert.deepEqual([packet.readUInt16BE(42), packet.readUInt16BE(46)], [1000, 1000]);
    assertChecksumsFresh(packet);
  });

  it('changes nothing without an MSS option, or when the list breaks before it', () => {
    assert.equal(clamp(buildSegment({ options: [1, 1, 4, 2] }), 536), false);
    assert.equal(clamp(buildSegment({ options: [8, 1, 2, 4, 0x05, 0xb4, 0, 0] }), 536), false);
  });

  it('ignores an MSS option of the wrong length', () => {
    assert.equal(clamp(buildSegment({ options: [2, 3, 0x05, 0, 0, 0, 0, 0] }), 536), false);
  });
});
