import { strict as assert } from 'node:assert';
import { computeTcpChecksum, TcpFlag } from '../src/packet/tcp';
import { addTag, readTag, TAG_EXPERIMENT_ID, type TagRefusal } from '../src/packet/tag';
import { assertChecksumsFresh, buildSegment, kernelPacket, parsed } from './fixtures/packet-helpers';

const TAG_BLOCK = (verdict: number): number[] => [1, 1, 1, 253, 5, TAG_EXPERIMENT_ID >> 8, TAG_EXPERIMENT_ID & 0xff, verdict];
// What macOS sends: mss, nop, wscale, nop, nop, timestamps, sackOK, eol.
const MACOS_OPTIONS = [2, 4, 5, 0xb4, 1, 3, 3, 6, 1, 1, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 4, 2, 0];

function tagged(packet: Buffer, permissible: boolean, offset = 0): Buffer {
  const { ip, tcp } = parsed(packet, offset);
  const result = addTag(packet, ip, tcp, permissible);
  assert.ok(result.ok, `refused: ${result.ok ? '' : result.reason}`);
  return result.packet;
}

function refusal(packet: Buffer): TagRefusal {
  const { ip, tcp } = parsed(packet);
  const result = addTag(packet, ip, tcp, true);
  assert.ok(!result.ok, 'tagged');
  return result.reason;
}

const readOf = (packet: Buffer): string => readTag(packet, parsed(packet).tcp);

describe('readTag', () => {
  it('finds no tag on a kernel SYN', () => assert.equal(readOf(kernelPacket('syn')), 'absent'));

  it('reads both verdicts', () => {
    assert.equal(readOf(buildSegment({ options: TAG_BLOCK(1) })), 'permissible');
    assert.equal(readOf(buildSegment({ options: TAG_BLOCK(0) })), 'not-permissible');
  });

  it('reads a verdict other than 0 or 1, or a wrong length with our id, as malformed', () => {
    assert.equal(readOf(buildSegment({ options: TAG_BLOCK(2) })), 'malformed');
    assert.equal(readOf(buildSegment({ options: [253, 6, 0x53, 0x52, 1, 0] })), 'malformed');
  });

  it("ignores other experiments' 253 options and short 253 options", () => {
    assert.equal(readOf(buildSegment({ options: [253, 5, 0x12, 0x34, 1, 253, 2] })), 'absent');
  });

  it('reports a damaged option list as malformed', () => {
    assert.equal(readOf(buildSegment({ options: [2, 0, 0, 0] })), 'malformed');
  });
});

describe('addTag', () => {
  it('appends the tag to a kernel SYN: 8 bytes more, earlier bytes unchanged, both checksums fresh', () => {
    const syn = kernelPacket('syn');
    const out = tagged(syn, true);
    assert.equal(out.length, 68);
    const { ip, tcp } = parsed(out);
    assert.deepEqual([ip.totalLength, tcp.headerLength, tcp.seq, tcp.flags], [68, 48, 3798502738, TcpFlag.SYN]);
    // Everything but the IPv4 total length and checksum, TCP data offset and checksum.
    const kept = (b: Buffer): Buffer => Buffer.concat([b.subarray(0, 2), b.subarray(4, 10), b.subarray(12, 32), b.subarray(33, 36), b.subarray(38, 60)]);
    assert.deepEqual(kept(out), kept(syn));
    assert.equal(out[32] & 0x0f, syn[32] & 0x0f, 'reserved bits of the data offset byte');
    assert.deepEqual([...out.subarray(60, 68)], TAG_BLOCK(1));
    assert.equal(readOf(out), 'permissible');
    assertChecksumsFresh(out);
    assert.equal(readOf(syn), 'absent', 'the original is left alone');
  });

  it('writes the not-permissible verdict', () => assert.equal(readOf(tagged(kernelPacket('syn'), false)), 'not-permissible'));

  it('keeps a link header in front and the payload behind, odd-length payload included', () => {
    const packet = buildSegment({ linkHeaderLength: 14, options: [2, 4, 5, 0xb4], payload: Buffer.from('hello') });
    packet.fill(0xab, 0, 14);
    const out = tagged(packet, true, 14);
    assert.deepEqual(out.subarray(0, 14), Buffer.alloc(14, 0xab));
    const { tcp } = parsed(out, 14);
    assert.equal(out.toString('latin1', tcp.payloadOffset), 'hello');
    assertChecksumsFresh(out, 14);
  });

  it('puts the tag before an EOL (macOS SYN), where receivers still look', () => {
    const out = tagged(buildSegment({ options: MACOS_OPTIONS }), true);
    const { tcp } = parsed(out);
    assert.equal(tcp.headerLength, 20 + 32, '22 option bytes + 8, padded');
    assert.deepEqual([...out.subarray(40 + 22, 40 + 32)], [...TAG_BLOCK(1), 0, 0]);
    assert.equal(readOf(out), 'permissible');
    assertChecksumsFresh(out);
  });

  it('fills up to exactly 40 option bytes, and refuses one word more', () => {
    assert.equal(parsed(tagged(buildSegment({ options: new Array(32).fill(1) }), true)).tcp.headerLength, 60);
    assert.equal(refusal(buildSegment({ options: new Array(33).fill(1) })), 'no-option-space');
  });

  it('refuses a malformed option list, an existing tag, and a packet that would pass 65535 bytes', () => {
    assert.equal(refusal(buildSegment({ options: [8, 1, 0, 0] })), 'malformed-options');
    assert.equal(refusal(buildSegment({ options: TAG_BLOCK(0) })), 'already-tagged');
    assert.equal(refusal(buildSegment({ payload: Buffer.alloc(65535 - 40 - 4) })), 'packet-too-long');
  });

  it('keeps a bad TCP checksum bad rather than laundering it', () => {
    const packet = kernelPacket('syn');
    packet[38]++;
    const out = tagged(packet, true);
    const { ip } = parsed(out);
    assert.notEqual(out.readUInt16BE(ip.payloadOffset + 16), computeTcpChecksum(out, ip.src, ip.dst, ip.payloadOffset, ip.totalLength));
  });
});
