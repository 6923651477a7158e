// No byte sequence may make the codec throw, and what it builds from damaged
// input must still be well-formed.
import { strict as assert } from 'node:assert';
import { setDst, setSrc } from '../src/packet/address-rewrite';
import { crack, encapsulate } from '../src/packet/ipip';
import { createIpv4View, parseIpv4, type Ipv4View } from '../src/packet/ipv4';
import { clampMss } from '../src/packet/mss';
import { addTag, readTag } from '../src/packet/tag';
import { createTcpView, parseTcp, verifyTcpChecksum } from '../src/packet/tcp';
import { KERNEL_PACKETS } from './fixtures/kernel-packets';
import { editIpv4Header, kernelPacket, seededRandom } from './fixtures/packet-helpers';

const ipView = createIpv4View();
const innerView = createIpv4View();
const tcpView = createTcpView();
const checkView = createIpv4View();
const checkTcp = createTcpView();

interface Tally {
  packets: number;
  ipv4Ok: number;
  tcpOk: number;
  tagged: number;
  cracked: number;
}

/** Runs the buffer through everything the gateway, switch and replica would do to it. */
function exercise(buf: Buffer, offset: number, tally: Tally): void {
  tally.packets++;
  if (parseIpv4(buf, offset, ipView) !== 'ok') return;
  tally.ipv4Ok++;
  if (crack(buf, ipView, innerView) === 'ok') tally.cracked++;
  const outer = encapsulate(buf, ipView, 0x0a000001, 0x0a000002);
  if (outer.ok) assert.equal(parseIpv4(outer.packet, offset, checkView), 'ok', 'encapsulated packet');
  if (parseTcp(buf, ipView, tcpView) === 'ok') {
    tally.tcpOk++;
    verifyTcpChecksum(buf, ipView);
    readTag(buf, tcpView);
    const tagged = addTag(buf, ipView, tcpView, true);
    if (tagged.ok) {
      tally.tagged++;
      assert.equal(parseIpv4(tagged.packet, offset, checkView), 'ok', 'tagged packet');
      assert.equal(parseTcp(tagged.packet, checkView, checkTcp), 'ok', 'tagged segment');
      assert.equal(readTag(tagged.packet, checkTcp), 'permissible');
    }
    clampMss(buf, tcpView, 536);
  }
  setDst(buf, ipView, 0xc0000201);
  setSrc(buf, ipView, 0xffffffff);
  assert.equal(parseIpv4(buf, offset, checkView), 'ok', 'rewritten header');
}

const newTally = (): Tally => ({ packets: 0, ipv4Ok: 0, tcpOk: 0, tagged: 0, cracked: 0 });

// Random damage to real packets, with the IPv4 checksum repaired half of the
// time so the damage reaches the TCP header and options.
function mutated(random: () => number): Buffer {
  const fixture = KERNEL_PACKETS[Math.floor(random() * KERNEL_PACKETS.length)];
  let packet: Buffer = Buffer.from(fixture.ipHex, 'hex');
  if (random() < 0.3) {
    const outer = encapsulate(packet, parsedHeader(packet), 1, 2);
    if (outer.ok) packet = outer.packet;
  }
  const changes = 1 + Math.floor(random() * 4);
  for (let i = 0; i < changes; i++) {
    // Mostly inside the headers and options, where the parsers look.
    const at = Math.floor(random() * Math.min(packet.length, random() < 0.8 ? 80 : packet.length));
    packet[at] = Math.floor(random() * 256);
  }
  const headerLength = (packet[0] & 0x0f) * 4;
  if (random() < 0.5 && headerLength >= 20 && headerLength <= packet.length) editIpv4Header(packet, () => undefined);
  return packet;
}

function parsedHeader(packet: Buffer): Ipv4View {
  const view = createIpv4View();
  parseIpv4(packet, 0, view);
  return view;
}

describe('codec fuzzing', function () {
  this.timeout(20_000);

  it('survives random bytes at any offset, negative and past the end included', () => {
    const random = seededRandom(7);
    const tally = newTally();
    for (let round = 0; round < 20_000; round++) {
      const buf = Buffer.alloc(Math.floor(random() * 120));
      for (let i = 0; i < buf.length; i++) buf[i] = random() * 256;
      if (buf.length > 0 && random() < 0.5) buf[0] = 0x45;
      exercise(buf, Math.floor(random() * 24) - 2, tally);
    }
    assert.equal(tally.packets, 20_000);
  });

  it('survives every truncation of every kernel packet, tagged and encapsulated ones too', () => {
    const tally = newTally();
    for (const { name } of KERNEL_PACKETS) {
      const packet = kernelPacket(name);
      const view = parsedHeader(packet);
      const outer = encapsulate(packet, view, 1, 2);
      assert.ok(outer.ok);
      const variants = [packet, outer.packet, Buffer.concat([Buffer.alloc(14), packet])];
      for (const variant of variants) {
        for (let length = 0; length <= variant.length; length++) {
          exercise(Buffer.from(variant.subarray(0, length)), variant === variants[2] ? 14 : 0, tally);
        }
      }
    }
    assert.equal(tally.ipv4Ok, 3 * KERNEL_PACKETS.length, 'only whole packets parse, one per variant');
    assert.equal(tally.cracked, KERNEL_PACKETS.length);
  });

  it('survives damaged headers and options, and what it builds from them parses', () => {
    const random = seededRandom(1994);
    const tally = newTally();
    for (let round = 0; round < 30_000; round++) exercise(mutated(random), 0, tally);
    // The damage reached every layer, so the assertions above were really made.
    assert.ok(tally.tcpOk > 5_000, `TCP parsed ${tally.tcpOk} times`);
    assert.ok(tally.tagged > 2_000, `tagged ${tally.tagged} times`);
    assert.ok(tally.cracked > 1_000, `cracked ${tally.cracked} times`);
  });
});
