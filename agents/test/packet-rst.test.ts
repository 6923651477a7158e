import { strict as assert } from 'node:assert';
import { buildRst } from '../src/packet/rst';
import { TcpFlag } from '../src/packet/tcp';
import { assertChecksumsFresh, ip, parsed } from './fixtures/packet-helpers';

describe('buildRst', () => {
  it('builds a 40-byte RST (no ACK) with the given addresses, ports and sequence number', () => {
    const packet = buildRst({ src: ip('10.1.0.1'), dst: ip('172.16.5.9'), srcPort: 51000, dstPort: 80, seq: 0xfffffffe });
    assert.equal(packet.length, 40);
    const { ip: v, tcp } = parsed(packet);
    assert.deepEqual([v.src, v.dst, v.ttl, v.df, v.totalLength], [ip('10.1.0.1'), ip('172.16.5.9'), 64, true, 40]);
    assert.deepEqual([tcp.srcPort, tcp.dstPort, tcp.seq, tcp.ack, tcp.flags, tcp.payloadLength], [51000, 80, 0xfffffffe, 0, TcpFlag.RST, 0]);
    assertChecksumsFresh(packet);
  });
});
