import { strict as assert } from 'node:assert';
import { internetChecksum, onesComplementSum, updateChecksum16, updateChecksum32 } from '../src/packet/checksum';
import { kernelPacket, seededRandom } from './fixtures/packet-helpers';

describe('Internet checksum', () => {
  it('gives the RFC 1071 worked example sum and checksum', () => {
    const data = Buffer.from('0001f203f4f5f6f7', 'hex');
    assert.equal(onesComplementSum(data, 0, data.length), 0xddf2);
    assert.equal(internetChecksum(data, 0, data.length), 0x220d);
  });

  it('pads an odd last byte with a zero byte, not a zero high byte', () => {
    assert.equal(internetChecksum(Buffer.from([0x12, 0x34, 0x56]), 0, 3), ~(0x1234 + 0x5600) & 0xffff);
  });

  it('continues from an initial sum as if the words had been in front', () => {
    const data = Buffer.from('4500003cf462400040063089', 'hex');
    assert.equal(onesComplementSum(data, 4, data.length, onesComplementSum(data, 0, 4)), onesComplementSum(data, 0, data.length));
  });

  it('sums a kernel-made IPv4 header, checksum included, to 0xffff', () => {
    assert.equal(onesComplementSum(kernelPacket('syn'), 0, 20), 0xffff);
  });
});

describe('RFC 1624 incremental update', () => {
  it('uses eqn. 3: the example of RFC 1624 section 4 gives 0x0000 where eqn. 2 gives 0xffff', () => {
    assert.equal(updateChecksum16(0xdd2f, 0x5555, 0x3285), 0x0000);
  });

  it('agrees with a fresh computation for random 16-bit and 32-bit changes', () => {
    const random = seededRandom(1624);
    for (let round = 0; round < 2000; round++) {
      const buf = Buffer.alloc(2 * (4 + Math.floor(random() * 40)));
      for (let i = 0; i < buf.length; i++) buf[i] = random() * 256;
      buf.writeUInt16BE(0, 0);
      buf.writeUInt16BE(internetChecksum(buf, 0, buf.length), 0);
      const wide = round % 2 === 1;
      const at = 2 + 2 * Math.floor(random() * (buf.length / 2 - (wide ? 2 : 1)));
      const old = wide ? buf.readUInt32BE(at) : buf.readUInt16BE(at);
      const value = Math.floor(random() * (wide ? 2 ** 32 : 2 ** 16));
      if (wide) buf.writeUInt32BE(value, at);
      else buf.writeUInt16BE(value, at);
      const updated = wide ? updateChecksum32(buf.readUInt16BE(0), old, value) : updateChecksum16(buf.readUInt16BE(0), old, value);
      buf.writeUInt16BE(0, 0);
      assert.equal(updated, internetChecksum(buf, 0, buf.length), `round ${round}`);
    }
  });
});
