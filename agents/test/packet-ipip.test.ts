import { strict as assert } from 'node:assert';
import { crack, encapsulate } from '../src/packet/ipip';
import { createIpv4View, parseIpv4, type Ipv4View } from '../src/packet/ipv4';
import { buildSegment, editIpv4Header, ip, kernelPacket, parsed } from './fixtures/packet-helpers';

const SWITCH = ip('192.0.2.10');
const REPLICA = ip('192.0.2.20');

function encapsulated(inner: Buffer, offset = 0): Buffer {
  const result = encapsulate(inner, parsed(inner, offset).ip, SWITCH, REPLICA);
  assert.ok(result.ok);
  return result.packet;
}

function cracked(outer: Buffer, offset = 0): [string, Ipv4View] {
  const outerView = createIpv4View();
  const inner = createIpv4View();
  const status = parseIpv4(outer, offset, outerView);
  assert.equal(status, 'ok');
  return [crack(outer, outerView, inner), inner];
}

describe('encapsulate', () => {
  it('puts an RFC 2003 header in front of a kernel SYN: protocol 4, TTL 64, DF and TOS copied, valid checksum', () => {
    const syn = editIpv4Header(kernelPacket('syn'), (b) => void (b[1] = 0xb8));
    const outer = encapsulated(syn);
    const view = createIpv4View();
    assert.equal(parseIpv4(outer, 0, view), 'ok');
    assert.deepEqual(
      [view.protocol, view.ttl, view.df, view.src, view.dst, view.totalLength, outer[1]],
      [4, 64, true, SWITCH, REPLICA, 80, 0xb8],
    );
    assert.deepEqual(outer.subarray(20), syn);
  });

  it('leaves DF clear when the inner packet has it clear', () => {
    const view = createIpv4View();
    assert.equal(parseIpv4(encapsulated(buildSegment({ df: false })), 0, view), 'ok');
    assert.equal(view.df, false);
  });

  it('gives consecutive packets fresh ids', () => {
    const syn = kernelPacket('syn');
    const first = encapsulated(syn).readUInt16BE(4);
    assert.equal(encapsulated(syn).readUInt16BE(4), (first + 1) & 0xffff);
  });

  it('keeps a link header in front', () => {
    const frame = Buffer.concat([Buffer.alloc(14, 0xab), kernelPacket('syn')]);
    const outer = encapsulated(frame, 14);
    assert.deepEqual(outer.subarray(0, 14), Buffer.alloc(14, 0xab));
    assert.deepEqual(outer.subarray(34), kernelPacket('syn'));
  });

  it('refuses to grow past 65535 bytes', () => {
    const big = buildSegment({ payload: Buffer.alloc(65535 - 40 - 10) });
    const result = encapsulate(big, parsed(big).ip, SWITCH, REPLICA);
    assert.deepEqual(result, { ok: false, reason: 'packet-too-long' });
  });
});

describe('crack', () => {
  it('finds the inner packet of an encapsulated one, validated, as a view into the same buffer', () => {
    const frame = encapsulated(Buffer.concat([Buffer.alloc(14), kernelPacket('client-data')]), 14);
    const [status, inner] = cracked(frame, 14);
    assert.equal(status, 'ok');
    assert.equal(inner.offset, 34);
    assert.deepEqual(frame.subarray(inner.offset, inner.offset + inner.totalLength), kernelPacket('client-data'));
  });

  it('says not-ipip for a TCP packet', () => {
    const syn = kernelPacket('syn');
    const view = parsed(syn).ip;
    assert.equal(crack(syn, view, createIpv4View()), 'not-ipip');
  });

  it('passes on what is wrong with the inner header', () => {
    const outer = encapsulated(kernelPacket('syn'));
    outer[20 + 8]--;
    assert.equal(cracked(outer)[0], 'bad-checksum');
  });

  it('refuses an inner packet that does not fill the outer payload exactly', () => {
    const outer = Buffer.concat([encapsulated(kernelPacket('syn')), Buffer.alloc(4)]);
    editIpv4Header(outer, (b) => b.writeUInt16BE(84, 2));
    assert.equal(cracked(outer)[0], 'length-mismatch');
  });

  it('refuses an inner packet longer than the outer one says', () => {
    const outer = encapsulated(kernelPacket('syn'));
    editIpv4Header(outer, (b) => b.writeUInt16BE(70, 2));
    assert.equal(cracked(Buffer.from(outer))[0], 'length-mismatch');
  });
});
