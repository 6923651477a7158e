import { strict as assert } from 'node:assert';
import { LearningSwitch } from '../src/switching/learning-switch';

function frame(dst: string, src: string): Buffer {
  const mac = (m: string): Buffer => Buffer.from(m.replace(/:/g, ''), 'hex');
  return Buffer.concat([mac(dst), mac(src), Buffer.from([0x08, 0x00]), Buffer.alloc(46)]);
}

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const BROADCAST = 'ff:ff:ff:ff:ff:ff';

describe('LearningSwitch', () => {
  it('floods unknown unicast to every port but the ingress', () => {
    const sw = new LearningSwitch(4);
    assert.deepEqual(sw.egressPorts(2, frame(B, A)), [0, 1, 3]);
  });

  it('sends unicast only to the port the destination was learned on', () => {
    const sw = new LearningSwitch(4);
    sw.egressPorts(3, frame(BROADCAST, B));
    assert.deepEqual(sw.egressPorts(0, frame(B, A)), [3]);
    // ...and learned A on the way, so the reply is unicast too.
    assert.deepEqual(sw.egressPorts(3, frame(A, B)), [0]);
  });

  it('floods broadcast and multicast even when the group address was seen as a source', () => {
    const sw = new LearningSwitch(3);
    sw.egressPorts(1, frame(A, '01:00:5e:00:00:01'));
    assert.deepEqual(sw.egressPorts(0, frame(BROADCAST, A)), [1, 2]);
    assert.deepEqual(sw.egressPorts(0, frame('01:00:5e:00:00:01', A)), [1, 2]);
  });

  it('filters a frame whose destination sits behind its own ingress port', () => {
    const sw = new LearningSwitch(3);
    sw.egressPorts(1, frame(BROADCAST, B));
    assert.deepEqual(sw.egressPorts(1, frame(B, A)), []);
  });

  it('re-learns a station that moved to another port once it aged out, never while it is fresh', () => {
    const sw = new LearningSwitch(3, { ageingMs: 1000 });
    sw.egressPorts(1, frame(BROADCAST, B), 0);
    assert.deepEqual(sw.egressPorts(2, frame(BROADCAST, B), 500), [], 'a fresh station\'s MAC from another port is dropped');
    assert.equal(sw.counters.macMoveRefused, 1);
    assert.deepEqual(sw.egressPorts(0, frame(B, A), 600), [1], 'and its traffic still goes to its own port');
    sw.egressPorts(2, frame(BROADCAST, B), 1700);
    assert.deepEqual(sw.egressPorts(0, frame(B, A), 1800), [2]);
  });

  it('forgets a station that aged out and floods to it again', () => {
    const sw = new LearningSwitch(3, { ageingMs: 1000 });
    sw.egressPorts(1, frame(BROADCAST, B), 0);
    assert.deepEqual(sw.egressPorts(0, frame(B, A), 999), [1]);
    assert.deepEqual(sw.egressPorts(0, frame(B, A), 2000), [1, 2]);
    assert.equal(sw.counters.aged, 1);
  });

  it('keeps a pinned MAC on its port for good', () => {
    const sw = new LearningSwitch(3, { pinned: new Map([[0x02000000000b, 1]]) });
    assert.deepEqual(sw.egressPorts(2, frame(BROADCAST, B), 1e9), []);
    assert.deepEqual(sw.egressPorts(0, frame(B, A), 1e9), [1]);
  });

  it('learns at most macsPerPort stations per port: a million random MACs on one port leave the others\' stations alone', () => {
    const sw = new LearningSwitch(3, { macsPerPort: 1024 });
    sw.egressPorts(0, frame(BROADCAST, A), 0);
    sw.egressPorts(1, frame(BROADCAST, B), 0);
    const flood = frame(BROADCAST, A);
    let seed = 1;
    for (let i = 0; i < 1_000_000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      flood.writeUInt32BE(seed, 8);
      flood[6] = 0x02;
      flood[7] = i & 0xff;
      sw.egressPorts(2, flood, i / 1000);
    }
    assert.ok(sw.size <= 2 + 1024, `${sw.size} stations`);
    assert.deepEqual(sw.egressPorts(0, frame(B, A), 1000), [1]);
    assert.deepEqual(sw.egressPorts(1, frame(A, B), 1000), [0]);
  });

  it('drops frames shorter than an Ethernet header', () => {
    const sw = new LearningSwitch(3);
    assert.deepEqual(sw.egressPorts(0, Buffer.alloc(13, 0xff)), []);
  });
});
