import { strict as assert } from 'node:assert';
import { ipToString, parseIp } from '../src/packet/address';

describe('IPv4 address helpers', () => {
  it('converts both ways, top bit included (unsigned)', () => {
    assert.equal(parseIp('255.1.2.3'), 0xff010203);
    assert.equal(ipToString(0xff010203), '255.1.2.3');
    assert.equal(ipToString(parseIp('10.0.0.1') as number), '10.0.0.1');
    assert.equal(parseIp('0.0.0.0'), 0);
  });

  for (const bad of ['1.2.3', '1.2.3.4.5', '256.0.0.1', '1.2.3.-4', '1.2..4', '01.2.3.4', ' 1.2.3.4', '1.2.3.4 ', 'a.b.c.d', '', '1e2.0.0.1']) {
    it(`refuses '${bad}'`, () => assert.equal(parseIp(bad), null));
  }
});
