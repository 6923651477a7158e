import { strict as assert } from 'node:assert';
import { createIpv4View, parseIpv4 } from '../src/packet/ipv4';
import { editIpv4Header, ip, kernelPacket } from './fixtures/packet-helpers';

describe('parseIpv4', () => {
  const view = createIpv4View();

  it('reads a kernel SYN behind a link header, offsets absolute', () => {
    const frame = Buffer.concat([Buffer.alloc(14, 0xee), kernelPacket('syn')]);
    assert.equal(parseIpv4(frame, 14, view), 'ok');
    assert.deepEqual(view, {
      offset: 14, headerLength: 20, totalLength: 60, protocol: 6, src: ip('10.231.0.1'), dst: ip('10.231.0.2'),
      ttl: 64, id: 0xf462, df: true, mf: false, fragmentOffset: 0, payloadOffset: 34,
    });
  });

  it('accepts bytes after the total length (Ethernet pads short frames)', () => {
    assert.equal(parseIpv4(Buffer.concat([kernelPacket('syn'), Buffer.alloc(6)]), 0, view), 'ok');
    assert.equal(view.totalLength, 60);
  });

  it('reports a buffer shorter than 20 bytes as truncated', () => {
    assert.equal(parseIpv4(kernelPacket('syn').subarray(0, 19), 0, view), 'truncated');
    assert.equal(parseIpv4(kernelPacket('syn'), 45, view), 'truncated');
  });

  it('reports a header with options beyond the buffer as truncated', () => {
    const packet = kernelPacket('syn').subarray(0, 22);
    packet[0] = 0x46;
    assert.equal(parseIpv4(packet, 0, view), 'truncated');
  });

  it('reports version 6 and an IHL below 5', () => {
    assert.equal(parseIpv4(editIpv4Header(kernelPacket('syn'), (b) => void (b[0] = 0x65)), 0, view), 'bad-version');
    assert.equal(parseIpv4(editIpv4Header(kernelPacket('syn'), (b) => void (b[0] = 0x44)), 0, view), 'bad-header-length');
  });

  it('reports a header checksum that does not verify', () => {
    const packet = kernelPacket('syn');
    packet[8]--;
    assert.equal(parseIpv4(packet, 0, view), 'bad-checksum');
  });

  it('reports a total length beyond the bytes present, or below the header length', () => {
    assert.equal(parseIpv4(editIpv4Header(kernelPacket('syn'), (b) => b.writeUInt16BE(61, 2)), 0, view), 'length-mismatch');
    assert.equal(parseIpv4(editIpv4Header(kernelPacket('syn'), (b) => b.writeUInt16BE(19, 2)), 0, view), 'length-mismatch');
    assert.equal(parseIpv4(kernelPacket('syn'), 0, view, 59), 'length-mismatch', 'the end argument bounds the packet');
  });

  it('refuses fragments, first (MF) and later (offset), but describes them', () => {
    assert.equal(parseIpv4(editIpv4Header(kernelPacket('syn'), (b) => b.writeUInt16BE(0x2000, 6)), 0, view), 'fragment');
    assert.deepEqual([view.mf, view.df, view.fragmentOffset], [true, false, 0]);
    assert.equal(parseIpv4(editIpv4Header(kernelPacket('syn'), (b) => b.writeUInt16BE(185, 6)), 0, view), 'fragment');
    assert.deepEqual([view.mf, view.fragmentOffset], [false, 1480]);
  });

  it('reads header options: payload after them', () => {
    const syn = kernelPacket('syn');
    const withOptions = Buffer.concat([syn.subarray(0, 20), Buffer.from([1, 1, 1, 0]), syn.subarray(20)]);
    editIpv4Header(withOptions, (b) => {
      b[0] = 0x46;
      b.writeUInt16BE(64, 2);
    });
    assert.equal(parseIpv4(withOptions, 0, view), 'ok');
    assert.deepEqual([view.headerLength, view.payloadOffset], [24, 24]);
  });
});
