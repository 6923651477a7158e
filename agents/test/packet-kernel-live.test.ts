// The codec against a live Linux kernel in throwaway namespaces: what the
// kernel sends must parse as tcpdump reads it, and what the codec rewrites
// must be accepted (and answered) by the kernel. Needs root.
import { strict as assert } from 'node:assert';
import { setDst, setSrc } from '../src/packet/address-rewrite';
import { clampMss } from '../src/packet/mss';
import { buildRst } from '../src/packet/rst';
import { addTag } from '../src/packet/tag';
import { createKernelLab, LAB, tcpdumpText, type KernelLab } from './fixtures/kernel-lab';
import { ip, parsed } from './fixtures/packet-helpers';
import { ETHERNET_HEADER_LENGTH, readPcapFrames } from './fixtures/pcap';
import { assertViewsMatchTcpdump, parseTcpdumpText, type TcpdumpRecord } from './fixtures/tcpdump-text';

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 300));

describe('codec against a live kernel', function () {
  this.timeout(30_000);
  let lab: KernelLab | undefined;

  before(async () => {
    assert.equal(process.getuid?.(), 0, 'these tests make network namespaces: run them as root, as npm test does');
    lab = await createKernelLab();
  });

  after(() => lab?.destroy());

  async function captureDuring(action: () => Promise<void> | void): Promise<{ frames: Buffer[]; records: TcpdumpRecord[] }> {
    const capture = await lab!.capture();
    await action();
    const pcap = await capture.stop();
    return { frames: readPcapFrames(pcap), records: parseTcpdumpText(tcpdumpText(pcap)) };
  }

  it('reads every packet of a real connection as tcpdump does, and every kernel checksum verifies', async () => {
    const { frames, records } = await captureDuring(() => lab!.exchange());
    assert.equal(frames.length, records.length);
    for (const letters of ['S', 'S.', 'P.', 'F.']) assert.ok(records.some((r) => r.flagLetters === letters), `no [${letters}] captured`);
    frames.forEach((frame, i) => {
      assert.equal(records[i].checksumCorrect, true);
      const { ip: v, tcp } = parsed(frame, ETHERNET_HEADER_LENGTH);
      assertViewsMatchTcpdump(v, tcp, frame, records[i]);
    });
  });

  it('gets a SYN+ACK for a rewritten, clamped, tagged kernel SYN, none for a corrupted one; the late-answer RST ends it', async () => {
    const exchange = await captureDuring(() => lab!.exchange());
    const synIndex = exchange.records.findIndex((r) => r.flagLetters === 'S');
    const syn = Buffer.from(exchange.frames[synIndex].subarray(ETHERNET_HEADER_LENGTH));
    // As a gateway would treat it, then addressed like a replica's copy.
    const view = parsed(syn);
    assert.equal(clampMss(syn, view.tcp, 1200), true);
    const result = addTag(syn, view.ip, view.tcp, true);
    assert.ok(result.ok);
    const rewritten = result.packet;
    const rewrittenView = parsed(rewritten);
    setSrc(rewritten, rewrittenView.ip, ip(LAB.strangerIp));
    setDst(rewritten, rewrittenView.ip, ip(LAB.replicaIp));

    const corrupted = Buffer.from(rewritten);
    corrupted[rewrittenView.tcp.offset + 16] ^= 0x40;
    const ignored = await captureDuring(async () => {
      lab!.inject(corrupted);
      await settle();
    });
    assert.deepEqual(ignored.records.map((r) => r.flagLetters), ['S'], 'the corrupted SYN arrived and nothing answered it');
    assert.equal(ignored.records[0].checksumCorrect, false);
    assert.equal(lab!.synRecvCount(LAB.strangerIp), 0);

    const answered = await captureDuring(async () => {
      lab!.inject(rewritten);
      await settle();
    });
    const [injected, synAck] = answered.records;
    assert.equal(injected.checksumCorrect, true, 'tcpdump agrees the rewritten SYN is valid');
    assert.equal(injected.mss, 1200);
    assert.ok(synAck, 'the kernel answered');
    assert.deepEqual(
      [synAck.flagLetters, synAck.src, synAck.dst, synAck.dstPort, synAck.ack],
      ['S.', ip(LAB.replicaIp), ip(LAB.strangerIp), rewrittenView.tcp.srcPort, (rewrittenView.tcp.seq + 1) >>> 0],
    );
    assert.equal(lab!.synRecvCount(LAB.strangerIp), 1);

    const rst = (seq: number): Buffer => buildRst({
      src: ip(LAB.strangerIp), dst: ip(LAB.replicaIp), srcPort: rewrittenView.tcp.srcPort, dstPort: LAB.port, seq,
    });
    lab!.inject(rst((synAck.ack! + 100_000_000) >>> 0));
    await settle();
    assert.equal(lab!.synRecvCount(LAB.strangerIp), 1, 'a RST with another sequence number is ignored');
    lab!.inject(rst(synAck.ack!));
    await settle();
    assert.equal(lab!.synRecvCount(LAB.strangerIp), 0, 'the RST with seq = the SYN+ACK ack number dropped the half-open connection');
  });
});
