// Issue #14: the bounded synchronized race at the switch. No copy is held longer than the budget; candidates
// nearer than min(D_max, budget) still get their copies together, farther ones race unheld.
import { strict as assert } from 'node:assert';
import { addTag, createIpv4View, createTcpView, parseIpv4, parseTcp, TcpFlag } from '../src/packet';
import { Counters } from '../src/protocol/counters';
import { createSwitchCore, type SwitchVerdicts } from '../src/roles/server-switch';
import type { RaceMode } from '../src/race-mode';
import type { ServerSwitchConfig } from '../src/roles/server-switch-config';
import { buildSegment, ip } from './fixtures/packet-helpers';

const SERVER = ip('10.10.0.80');
const NEAR = ip('10.255.0.32'); // 7 ms from the switch
const MID = ip('10.255.0.31'); // 38 ms
const FAR = ip('10.255.0.33'); // 85 ms: D_max
const GATEWAY = ip('10.255.0.13');
const GATEWAY_MAC = 0x025352000013;

/** The hold each candidate's copy (and the origin's original) gets in `mode` with `budget`. */
function holdsIn(mode: RaceMode, budget: number, liveHolds?: Map<number, number>): Map<number, number> {
  const config: ServerSwitchConfig = {
    wanInterface: 'wan0', switchAddress: ip('10.255.0.20'), webPorts: [80], raceMode: mode,
    origins: [{ address: SERVER, replicas: [NEAR, MID, FAR], replicatablePorts: [80] }],
    holdMs: new Map([[SERVER, 85], [NEAR, 78], [MID, 47], [FAR, 0]]), holdBudgetMs: budget,
    gateways: [GATEWAY], fanOutLimit: { rate: 100, burst: 100 }, kernelPath: false,
  };
  const holds = new Map<number, number>();
  const held: (() => void)[] = [];
  let releasing = 0;
  const core = createSwitchCore(config, new Counters(), (_p, dst) => holds.set(dst, releasing), (ms, fn) => {
    held.push(() => {
      releasing = ms;
      fn();
      releasing = 0;
    });
  }, () => 0);
  core.setGatewayLinks(new Map([[GATEWAY, GATEWAY_MAC]]));
  if (liveHolds) core.setHolds(liveHolds);
  const syn = buildSegment({ src: '10.3.0.10', dst: '10.10.0.80', flags: TcpFlag.SYN });
  const ipv = createIpv4View();
  const tcp = createTcpView();
  parseIpv4(syn, 0, ipv);
  parseTcp(syn, ipv, tcp);
  const tagged = addTag(syn, ipv, tcp, true);
  assert.ok(tagged.ok);
  const verdicts: SwitchVerdicts = { pass: () => holds.set(SERVER, 0), rewritten: () => undefined, drop: () => undefined, passAfter: (ms) => holds.set(SERVER, ms) };
  core.fromWan({ payload: tagged.packet, indev: 0, hwSource: GATEWAY_MAC, mark: 0, receivedNs: 0 }, verdicts);
  held.forEach((release) => release());
  return holds;
}

describe('server switch: the bounded race', () => {
  it('holds nothing longer than the budget, cutting every synchronized hold by D_max - budget', () => {
    const holds = holdsIn('bounded', 50);
    // D_max 85, cut 35: origin 50, near 43, mid 12, far 0 (it is farther than the budget: unheld)
    assert.deepEqual([SERVER, NEAR, MID, FAR].map((a) => holds.get(a)), [50, 43, 12, 0]);
  });

  it('takes new synchronized holds live, and cuts them by the new D_max', () => {
    // A new geography: D_max 120 (the origin's hold), so a budget of 50 cuts 70.
    const live = new Map([[SERVER, 120], [NEAR, 100], [MID, 60], [FAR, 0]]);
    assert.deepEqual([SERVER, NEAR, MID, FAR].map((a) => holdsIn('synchronized', 50, live).get(a)), [120, 100, 60, 0]);
    assert.deepEqual([SERVER, NEAR, MID, FAR].map((a) => holdsIn('bounded', 50, live).get(a)), [50, 30, 0, 0]);
  });

  it('is the synchronized race when the budget covers D_max, and the plain race at a zero budget', () => {
    assert.deepEqual([SERVER, NEAR, MID, FAR].map((a) => holdsIn('bounded', 100).get(a)), [85, 78, 47, 0]);
    assert.deepEqual([SERVER, NEAR, MID, FAR].map((a) => holdsIn('synchronized', 10).get(a)), [85, 78, 47, 0], 'the synchronized mode ignores the budget');
    assert.deepEqual([SERVER, NEAR, MID, FAR].map((a) => holdsIn('bounded', 0).get(a)), [0, 0, 0, 0]);
  });
});
