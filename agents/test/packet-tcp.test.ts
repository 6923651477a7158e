import { strict as assert } from 'node:assert';
import { createIpv4View, parseIpv4 } from '../src/packet/ipv4';
import { createTcpView, parseTcp, TcpFlag, verifyTcpChecksum } from '../src/packet/tcp';
import { TcpOptionCursor, type OptionStep } from '../src/packet/tcp-options';
import { buildSegment, editIpv4Header, kernelPacket, parsed } from './fixtures/packet-helpers';

describe('parseTcp', () => {
  const ip = createIpv4View();
  const tcp = createTcpView();
  const parse = (packet: Buffer): string => {
    assert.equal(parseIpv4(packet, 0, ip), 'ok');
    return parseTcp(packet, ip, tcp);
  };

  it('reads a kernel SYN: 20 bytes of options, no payload', () => {
    assert.equal(parse(kernelPacket('syn')), 'ok');
    assert.deepEqual(
      { ...tcp },
      { offset: 20, srcPort: 49820, dstPort: 8080, seq: 3798502738, ack: 0, headerLength: 40, flags: TcpFlag.SYN, window: 64240, payloadOffset: 60, payloadLength: 0 },
    );
  });

  it('finds the payload of a kernel data segment', () => {
    const packet = kernelPacket('client-data');
    assert.equal(parse(packet), 'ok');
    assert.equal(tcp.flags, TcpFlag.PSH | TcpFlag.ACK);
    assert.equal(packet.toString('latin1', tcp.payloadOffset, tcp.payloadOffset + tcp.payloadLength), 'hello');
  });

  it('reports a non-TCP packet', () => {
    assert.equal(parse(editIpv4Header(kernelPacket('syn'), (b) => void (b[9] = 17))), 'not-tcp');
  });

  it('reports a segment shorter than a TCP header as truncated', () => {
    assert.equal(parse(editIpv4Header(kernelPacket('syn'), (b) => b.writeUInt16BE(39, 2))), 'truncated');
  });

  it('reports a data offset below 5 words or past the segment', () => {
    const small = kernelPacket('syn');
    small[32] = 0x40;
    assert.equal(parse(small), 'bad-data-offset');
    const large = kernelPacket('client-data');
    large[32] = 0xf0;
    assert.equal(parse(large), 'bad-data-offset', '60 header bytes in a 37-byte segment');
  });
});

describe('verifyTcpChecksum', () => {
  for (const name of ['syn', 'syn-ack', 'client-data', 'server-full-segment', 'server-fin']) {
    it(`accepts the kernel's ${name}, and not after one payload or pseudo-header bit flips`, () => {
      const packet = kernelPacket(name);
      const { ip } = parsed(packet);
      assert.equal(verifyTcpChecksum(packet, ip), true);
      packet[packet.length - 1] ^= 0x01;
      assert.equal(verifyTcpChecksum(packet, ip), false);
      packet[packet.length - 1] ^= 0x01;
      assert.equal(verifyTcpChecksum(packet, { ...ip, dst: ip.dst ^ 1 }), false);
    });
  }

  it('is false for a packet that is not TCP', () => {
    const packet = kernelPacket('syn');
    const { ip } = parsed(packet);
    assert.equal(verifyTcpChecksum(packet, { ...ip, protocol: 17 }), false);
  });
});

describe('TcpOptionCursor', () => {
  const cursor = new TcpOptionCursor();
  const walk = (options: number[]): (string | number[])[] => {
    const packet = buildSegment({ options });
    cursor.start(packet, parsed(packet).tcp);
    const seen: (string | number[])[] = [];
    for (let step: OptionStep = cursor.step(); ; step = cursor.step()) {
      if (step !== 'option') return [...seen, step, [cursor.listEnd - 40]];
      seen.push([cursor.kind, cursor.offset - 40, cursor.length]);
    }
  };

  it('walks the kernel SYN options, skipping NOPs', () => {
    const packet = kernelPacket('syn');
    cursor.start(packet, parsed(packet).tcp);
    const kinds = [];
    while (cursor.step() === 'option') kinds.push(cursor.kind);
    assert.deepEqual(kinds, [2, 4, 8, 3]);
  });

  it('stops at EOL and says where the list ended', () => {
    assert.deepEqual(walk([2, 4, 5, 0xb4, 1, 1, 0, 0]), [[2, 0, 4], 'end', [6]]);
  });

  it('ends after a run of NOPs to the end of the header', () => {
    assert.deepEqual(walk([1, 1, 1, 1, 1, 1, 1, 1]), ['end', [8]]);
  });

  for (const [what, options] of [
    ['a length byte of 0', [2, 4, 5, 0xb4, 8, 0, 0, 0]],
    ['a length byte of 1', [8, 1, 0, 0]],
    ['a length running past the header', [1, 1, 8, 10, 0, 0, 0, 0]],
    ['a kind in the last byte, without a length', [1, 1, 1, 8]],
  ] as [string, number[]][]) {
    it(`reports ${what} as malformed, and keeps reporting it`, () => {
      const result = walk(options);
      assert.equal(result[result.length - 2], 'malformed');
      assert.equal(cursor.step(), 'malformed');
    });
  }
});
