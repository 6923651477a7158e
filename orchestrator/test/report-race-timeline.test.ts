import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadProfile, loadTopology, predict, type DelayProfile, type PathSpec, type Topology } from '@synrace/netem-profiles';
import { resolveProfile, resolveTopology } from '../src/inputs/lab-inputs';
import { parseRaceTimelines, readRaceTimelines, type RaceTimeline } from '../src/report/race-timeline';
import { candidateBoards } from '../src/verify';

const FIXTURES = join(__dirname, '..', '..', 'test', 'fixtures', 'report');
const fixture = (name: string) => join(FIXTURES, name);
const ORIGIN = '10.10.0.80';
const REP_IAD = '10.255.0.31';

function assertTimesIncrease(t: RaceTimeline): void {
  for (const events of [t.answers, t.resets]) {
    const times = events.map((e) => e.atMs);
    assert.ok(times.every((ms, i) => ms > 0 && (i === 0 || ms > times[i - 1])), `${t.key}: times ${times.join(', ')} do not increase from 0`);
  }
}

/** The captures predate the world profile moving London and São Paulo 5 ms further apart each way. */
function worldProfileAtCapture(topology: Topology): DelayProfile {
  const profile = loadProfile(resolveProfile('world'), topology);
  const londonSaoPaulo = (p: PathSpec) => [p.from, p.to].sort().join() === 'london,saopaulo';
  return { ...profile, paths: profile.paths.map((p) => (londonSaoPaulo(p) ? { ...p, delayMs: p.delayMs - 5 } : p)) };
}

/** Every loser is reset once, after its answer; the winner never. */
function assertLosersReset(t: RaceTimeline): void {
  for (const late of t.answers.slice(1)) {
    const resets = t.resets.filter((r) => r.to === late.answerer);
    assert.equal(resets.length, 1, `${t.key}: ${late.answerer} reset once`);
    assert.ok(resets[0].atMs > late.atMs, `${t.key}: ${late.answerer} reset after it answered`);
  }
  assert.ok(!t.resets.some((r) => r.to === t.winner?.answerer), 'the winner is not reset');
}

describe('report: race timelines from gateway pcaps', () => {
  describe('configuration A (real capture of two races at sao-gw)', () => {
    let timelines: RaceTimeline[];
    before(async () => (timelines = await readRaceTimelines(fixture('race-A-sao-gw-wan0.pcap'))));

    it('finds one race per tagged SYN, keyed client -> server', () => {
      assert.deepEqual(timelines.map((t) => t.key), ['10.2.0.10:37080 -> 10.10.0.80:80', '10.2.0.10:37180 -> 10.10.0.80:80']);
    });

    it('names the first answer the winner and counts the RSTs to the late answerers', () => {
      assert.deepEqual(timelines.map((t) => t.winner?.answerer), [REP_IAD, REP_IAD]);
      // The first capture was cut before rep-sin's answer (packet count), the second holds all five candidates.
      assert.deepEqual(timelines.map((t) => t.answers.length), [4, 5]);
      assert.deepEqual(timelines.map((t) => t.resets.length), [3, 4]);
      assert.deepEqual(timelines.map((t) => t.problems), [[], []]);
      timelines.forEach(assertTimesIncrease);
      timelines.forEach(assertLosersReset);
    });

    it('ignores the data of the bound connection', () => {
      assert.ok(timelines[0].answers.every((a) => /Flags \[S\.\]/.test(a.packet)));
      assert.ok(timelines[0].resets.every((r) => /Flags \[R\]/.test(r.packet)));
    });

    it('shows each answer within 2 ms of the time the predictor gives it (world profile, saopaulo)', () => {
      const topology = loadTopology(resolveTopology('world'));
      const sao = predict(topology, worldProfileAtCapture(topology)).find((p) => p.clientSite === 'saopaulo')!;
      const boards = candidateBoards(topology);
      for (const a of timelines[1].answers) {
        const predicted = sao.candidates.find((c) => c.board === boards.get(a.answerer))!.raceMs;
        assert.ok(Math.abs(a.atMs - predicted) < 2, `${boards.get(a.answerer)} answered at ${a.atMs} ms, predicted ${predicted} ms`);
      }
    });
  });

  for (const configuration of ['B', 'C'] as const) {
    it(`configuration ${configuration}: reads the replica out of the IPIP answer, the same race as A`, async () => {
      const [a, tunnelled] = await Promise.all([readRaceTimelines(fixture('race-A-sao-gw-wan0.pcap')), readRaceTimelines(fixture(`race-${configuration}-sao-gw-wan0.pcap`))]);
      const shape = (ts: RaceTimeline[]) => ts.map((t) => ({ winner: t.winner?.answerer, answers: t.answers.map((x) => [x.answerer, x.atMs]), resets: t.resets.map((r) => [r.to, r.atMs]) }));
      assert.deepEqual(shape(tunnelled), shape(a));
      for (const answer of tunnelled[1].answers) assert.equal(answer.tunnelled, answer.answerer !== ORIGIN, `${answer.answerer}'s answer tunnelled`);
      // C tunnels the RST to a replica; B sends it plain, as A does.
      for (const reset of tunnelled[1].resets) assert.equal(reset.tunnelled, configuration === 'C' && reset.to !== ORIGIN, `RST to ${reset.to} tunnelled`);
    });
  }

  it('says the winner is missing when the capture filter dropped the IPIP answers (real C capture, `tcp port 80`)', async () => {
    const [t] = await readRaceTimelines(fixture('race-C-port80-only-sao-gw-wan0.pcap'));
    assert.equal(t.winner, null);
    assert.deepEqual(t.resets.map((r) => r.to), [ORIGIN]);
    assert.match(t.problems.join('\n'), /first answer seen, from 10\.10\.0\.80 .* was reset/);
  });

  it('starts no race for an untagged SYN (real capture, non-web port)', async () => {
    assert.deepEqual(await readRaceTimelines(fixture('untagged-nyc-gw-wan0.pcap')), []);
  });

  it('keeps one race across a retransmitted SYN and flags a late answerer left unreset', () => {
    const syn = '1795704674.534200 IP 10.2.0.10.44230 > 10.10.0.80.80: Flags [S], seq 1101606929, win 64240, options [mss 1440,unknown-253 0x535201], length 0';
    const text = [
      syn,
      syn.replace('674.534200', '675.534200'),
      '1795704675.764944 IP 10.255.0.31.80 > 10.2.0.10.44230: Flags [S.], seq 1088206446, ack 1101606930, win 65160, length 0',
      '1795704675.800000 IP 10.10.0.80.80 > 10.2.0.10.44230: Flags [S.], seq 2088206446, ack 1101606930, win 65160, length 0',
    ].join('\n');
    const timelines = parseRaceTimelines(text);
    assert.equal(timelines.length, 1);
    assert.equal(timelines[0].answers[0].atMs, 1230.744, 'time zero is the first SYN');
    assert.equal(timelines[0].winner?.answerer, REP_IAD);
    assert.deepEqual(timelines[0].problems, ['10.10.0.80 answered late at 1265.8 ms and was never reset']);
  });
});
