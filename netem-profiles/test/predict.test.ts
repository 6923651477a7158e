import { strict as assert } from 'node:assert';
import { boundedHolds, formatPredictionTable, loadProfile, loadTopology, predict, raceSettings, type SitePrediction } from '../src/index';
import { edit, fixturePath, readFixture, writeTemp } from './helpers';

const topology = loadTopology(fixturePath('mini.topology.yaml'));
const profileText = readFixture('mini.profile.yaml');

function predictHome(text = profileText): SitePrediction {
  const predictions = predict(topology, loadProfile(writeTemp('p.yaml', text), topology));
  assert.equal(predictions.length, 1);
  return predictions[0];
}

describe('predict', () => {
  // mini: switch and origin at hub. d(home,hub) = d(hub,home) = 10; hub<->east 5;
  // hub<->west 20; east->home 8 but home->east 30; home<->west 12. D_max = 20.
  const home = predictHome();

  it('names the client site and its boards', () => {
    assert.equal(home.clientSite, 'home');
    assert.equal(home.hostBoard, 'home-host');
    assert.equal(home.gatewayBoard, 'home-gw');
  });

  it('computes race, synchronized race and RTT per protocol.md', () => {
    assert.deepEqual(home.candidates, [
      // race = d(c,s) + d(s,cand) + d(cand,c); sync = d(c,s) + D_max + d(cand,c); rtt = d(c,cand) + d(cand,c)
      // bounded = d(c,s) + max(d(s,cand), min(D_max, budget)) + d(cand,c); the default budget (100) is above D_max
      { board: 'hub-origin', site: 'hub', kind: 'origin', raceMs: 10 + 0 + 10, syncRaceMs: 10 + 20 + 10, boundedRaceMs: 10 + 20 + 10, rttMs: 10 + 10 },
      { board: 'rep-east', site: 'east', kind: 'replica', raceMs: 10 + 5 + 8, syncRaceMs: 10 + 20 + 8, boundedRaceMs: 10 + 20 + 8, rttMs: 30 + 8 },
      { board: 'rep-west', site: 'west', kind: 'replica', raceMs: 10 + 20 + 12, syncRaceMs: 10 + 20 + 12, boundedRaceMs: 10 + 20 + 12, rttMs: 12 + 12 },
    ]);
  });

  it('picks winners and margins from those times', () => {
    assert.equal(home.winner, 'hub-origin');
    assert.equal(home.marginMs, 3);
    assert.equal(home.syncWinner, 'rep-east');
    assert.equal(home.syncMarginMs, 2);
    assert.equal(home.closest, 'hub-origin');
  });

  it('bounds every hold by the budget: nearer candidates stay synchronized, farther ones race unheld', () => {
    const profile = loadProfile(writeTemp('p.yaml', profileText), topology);
    // Budget 10 < D_max 20: copies arrive 10 ms after the switch saw the SYN, rep-west (20 ms away) unheld.
    assert.deepEqual(boundedHolds(topology, profile, 10).map((h) => [h.board, h.holdMs]), [['hub-origin', 10], ['rep-east', 5], ['rep-west', 0]]);
    assert.deepEqual(boundedHolds(topology, profile, 0).map((h) => h.holdMs), [0, 0, 0], 'a zero budget is the plain race');
    const tight = predict({ ...topology, race: { ...raceSettings(topology), holdBudgetMs: 10 } }, profile)[0];
    // origin 10 + 10 + 10 = 30, east 10 + 10 + 8 = 28, west 10 + 20 + 12 = 42
    assert.deepEqual(tight.candidates.map((c) => c.boundedRaceMs), [30, 28, 42]);
    assert.equal(tight.boundedWinner, 'rep-east');
    assert.equal(tight.boundedMarginMs, 2);
  });

  it('prices every mode against a direct connection to the closest site, raced and cached', () => {
    assert.deepEqual(home.modes, [
      // closest is hub-origin, RTT 20; a cached connection goes straight to the race's winner
      { mode: 'plain', winner: 'hub-origin', marginMs: 3, handshakeMs: 20, cachedHandshakeMs: 20, costMs: 0, cachedCostMs: 0 },
      { mode: 'synchronized', winner: 'rep-east', marginMs: 2, handshakeMs: 38, cachedHandshakeMs: 38, costMs: 18, cachedCostMs: 18 },
      { mode: 'bounded', winner: 'rep-east', marginMs: 2, handshakeMs: 38, cachedHandshakeMs: 38, costMs: 18, cachedCostMs: 18 },
    ]);
  });

  it('says when an asymmetric uplink makes the synchronized winner differ from the closest', () => {
    assert.ok(
      home.notes.some((n) => /synchronized race picks rep-east \(downlink 8 ms\) though hub-origin .* home -> east takes 30 ms/.test(n)),
      home.notes.join('\n'),
    );
  });

  it('says when a margin is within the jitter of the racing paths', () => {
    // Jitter 1 ms on each leg that differs between the two: hub->home (origin), hub->east and east->home (rep-east).
    assert.ok(home.notes.some((n) => n.startsWith('plain margin 3 ms is within the jitter of the paths (up to 3 ms)')), home.notes.join('\n'));
    const calm = predictHome(edit(profileText, 'jitterMs: 1', 'jitterMs: 0'));
    assert.ok(!calm.notes.some((n) => n.includes('jitter')), calm.notes.join('\n'));
  });

  it('says when the plain winner is not the closest because of the detour through the switch', () => {
    assert.ok(!home.notes.some((n) => n.startsWith('plain race picks')));
    // Make west the best round trip while the switch detour (hub->west 20) still costs it the race.
    const far = predictHome(edit(profileText, 'between: [home, west]\n    delayMs: 12', 'between: [home, west]\n    delayMs: 4'));
    assert.equal(far.closest, 'rep-west');
    assert.equal(far.winner, 'hub-origin');
    assert.ok(far.notes.some((n) => n.startsWith('plain race picks hub-origin though rep-west has the lowest RTT (8 ms vs 20 ms)')), far.notes.join('\n'));
  });

  it('says when the winner\'s race path loses packets', () => {
    const lossy = predictHome(edit(profileText, '  - between: [home, hub]\n    delayMs: 10', '  - between: [home, hub]\n    delayMs: 10\n    lossPct: 1'));
    assert.ok(lossy.notes.some((n) => n.includes('hub-origin\'s race path loses packets (home -> hub 1%, hub -> home 1%)')), lossy.notes.join('\n'));
  });

  it('breaks a tie in favour of the origin', () => {
    // east->home 5 makes rep-east's race 10 + 5 + 5 = 20, equal to the origin's.
    const tied = predictHome(edit(profileText, 'to: home\n    delayMs: 8', 'to: home\n    delayMs: 5'));
    assert.equal(tied.candidates[1].raceMs, tied.candidates[0].raceMs);
    assert.equal(tied.winner, 'hub-origin');
    assert.equal(tied.marginMs, 0);
  });

  it('breaks a tie between replicas by topology order', () => {
    // west->home 8 equals east->home 8: both synchronized times are 38, below the origin's 40.
    const tied = predictHome(edit(profileText, '  - between: [home, west]\n    delayMs: 12', '  - from: home\n    to: west\n    delayMs: 12\n  - from: west\n    to: home\n    delayMs: 8'));
    assert.equal(tied.candidates[1].syncRaceMs, tied.candidates[2].syncRaceMs);
    assert.equal(tied.syncWinner, 'rep-east');
    assert.equal(tied.syncMarginMs, 0);
  });

  it('treats fractional delays that sum equal as a tie, not as a float rounding winner', () => {
    // rep-east RTT 0.1 + 0.2 and rep-west RTT 0.15 + 0.15: in floats the first is 0.30000000000000004.
    let text = edit(profileText, 'to: east\n    delayMs: 30', 'to: east\n    delayMs: 0.1');
    text = edit(text, 'to: home\n    delayMs: 8', 'to: home\n    delayMs: 0.2');
    text = edit(text, 'between: [home, west]\n    delayMs: 12', 'between: [home, west]\n    delayMs: 0.15');
    const tied = predictHome(text);
    assert.equal(tied.candidates[1].rttMs, 0.3);
    assert.equal(tied.candidates[2].rttMs, 0.3);
    assert.equal(tied.closest, 'rep-east');
  });
});

describe('formatPredictionTable', () => {
  it('prints one aligned row per client site, then the notes', () => {
    const prediction = predict(topology, loadProfile(fixturePath('mini.profile.yaml'), topology));
    const lines = formatPredictionTable(prediction).trimEnd().split('\n');
    assert.match(lines[0], /^client site\s+plain winner\s+margin ms\s+sync winner\s+margin ms\s+bounded winner\s+margin ms\s+closest$/);
    assert.deepEqual(lines[1].split(/\s+/), ['home', 'hub-origin', '3', 'rep-east', '2', 'rep-east', '2', 'hub-origin']);
    assert.equal(lines[2], 'notes:');
    assert.equal(lines.length, 3 + prediction[0].notes.length);
    assert.equal(lines[0].indexOf('plain winner'), lines[1].indexOf('hub-origin'));
  });
});
