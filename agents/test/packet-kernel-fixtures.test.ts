// Packets Linux made (fixtures/kernel-packets.ts), against tcpdump's decoding of them.
import { strict as assert } from 'node:assert';
import { setDst, setSrc } from '../src/packet/address-rewrite';
import { clampMss } from '../src/packet/mss';
import { addTag, readTag } from '../src/packet/tag';
import { verifyTcpChecksum } from '../src/packet/tcp';
import { KERNEL_PACKETS } from './fixtures/kernel-packets';
import { assertChecksumsFresh, ip, kernelPacket, parsed } from './fixtures/packet-helpers';
import { assertViewsMatchTcpdump, parseTcpdumpText } from './fixtures/tcpdump-text';

describe('kernel-made packets (fixtures)', () => {
  for (const fixture of KERNEL_PACKETS) {
    it(`reads the ${fixture.name} as tcpdump does; the kernel's checksums equal ours`, () => {
      const [record] = parseTcpdumpText(fixture.tcpdump);
      assert.equal(record.checksumCorrect, true);
      const packet = kernelPacket(fixture.name);
      const { ip: v, tcp } = parsed(packet);
      assertViewsMatchTcpdump(v, tcp, packet, record);
      assert.equal(verifyTcpChecksum(packet, v), true);
      assertChecksumsFresh(packet);
      if (record.mss !== null) {
        assert.equal(clampMss(packet, tcp, record.mss), false, `MSS is ${record.mss}, not above`);
        assert.equal(clampMss(packet, tcp, record.mss - 1), true, `MSS is ${record.mss}, not below`);
      }
    });
  }

  it("survives the gateway's whole start-packet treatment with fresh checksums: clamp, tag, NAT both ways", () => {
    const syn = kernelPacket('syn');
    const before = parsed(syn);
    assert.equal(clampMss(syn, before.tcp, 1440), true);
    const result = addTag(syn, before.ip, before.tcp, true);
    assert.ok(result.ok);
    const tagged = result.packet;
    const after = parsed(tagged);
    setDst(tagged, after.ip, ip('10.9.9.9'));
    setSrc(tagged, after.ip, ip('10.8.8.8'));
    assertChecksumsFresh(tagged);
    assert.equal(verifyTcpChecksum(tagged, after.ip), true);
    assert.equal(readTag(tagged, after.tcp), 'permissible');
    assert.deepEqual([after.tcp.seq, after.tcp.srcPort, after.tcp.dstPort], [before.tcp.seq, before.tcp.srcPort, before.tcp.dstPort]);
  });
});
