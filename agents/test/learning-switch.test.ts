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

  it('re-learns a station that moved to another port', () => {
    const sw = new LearningSwitch(3);
    sw.egressPorts(1, frame(BROADCAST, B));
    sw.egressPorts(2, frame(BROADCAST, B));
    assert.deepEqual(sw.egressPorts(0, frame(B, A)), [2]);
  });

  it('drops frames shorter than an Ethernet header', () => {
    const sw = new LearningSwitch(3);
    assert.deepEqual(sw.egressPorts(0, Buffer.alloc(13, 0xff)), []);
  });
});
