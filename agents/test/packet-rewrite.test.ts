import { strict as assert } from 'node:assert';
import { setDst, setSrc } from '../src/packet/address-rewrite';
import { encapsulate } from '../src/packet/ipip';
import { createIpv4View, parseIpv4 } from '../src/packet/ipv4';
import { assertChecksumsFresh, ip, kernelPacket, parsed, seededRandom } from './fixtures/packet-helpers';

describe('setSrc / setDst', () => {
  it('rewrites the destination of a kernel SYN in place; view and both checksums follow', () => {
    const syn = kernelPacket('syn');
    const view = parsed(syn).ip;
    setDst(syn, view, ip('203.0.113.77'));
    assert.equal(syn.readUInt32BE(16), ip('203.0.113.77'));
    assert.equal(view.dst, ip('203.0.113.77'));
    assertChecksumsFresh(syn);
  });

  it('rewrites the source of a full-size kernel segment without touching its payload', () => {
    const segment = kernelPacket('server-full-segment');
    const view = parsed(segment).ip;
    setSrc(segment, view, ip('198.18.0.1'));
    assert.equal(parsed(segment).ip.src, ip('198.18.0.1'));
    const { tcp } = parsed(segment);
    assert.equal(tcp.payloadLength, 1448);
    assert.deepEqual(segment.subarray(tcp.payloadOffset), kernelPacket('server-full-segment').subarray(tcp.payloadOffset));
    assertChecksumsFresh(segment);
  });

  it('gives back the original bytes when the address is set back', () => {
    const syn = kernelPacket('syn-ack');
    const view = parsed(syn).ip;
    setSrc(syn, view, ip('10.0.0.99'));
    setSrc(syn, view, ip('10.231.0.2'));
    assert.deepEqual(syn, kernelPacket('syn-ack'));
  });

  it('keeps checksums fresh over many random addresses and packets', () => {
    const random = seededRandom(2003);
    const names = ['syn', 'syn-ack', 'client-data', 'server-full-segment', 'server-fin'];
    for (let round = 0; round < 500; round++) {
      const packet = kernelPacket(names[round % names.length]);
      const view = parsed(packet).ip;
      setSrc(packet, view, Math.floor(random() * 2 ** 32));
      setDst(packet, view, Math.floor(random() * 2 ** 32));
      assertChecksumsFresh(packet);
    }
  });

  it('touches only the IPv4 header of a packet that is not TCP', () => {
    const syn = kernelPacket('syn');
    const outer = encapsulate(syn, parsed(syn).ip, ip('192.0.2.1'), ip('192.0.2.2'));
    assert.ok(outer.ok);
    const view = createIpv4View();
    assert.equal(parseIpv4(outer.packet, 0, view), 'ok');
    setDst(outer.packet, view, ip('192.0.2.3'));
    assert.equal(parseIpv4(outer.packet, 0, view), 'ok');
    assert.deepEqual(outer.packet.subarray(20), syn);
  });
});
