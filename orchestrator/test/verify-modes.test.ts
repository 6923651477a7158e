// Issue #14: how verify judges a site in each mode, the winner cache's included, and what the report shows of it.
import assert from 'node:assert/strict';
import { addressOf, boardsWithRole, interfaceOn, loadProfile, loadTopology, predict } from '@synrace/netem-profiles';
import type { Via } from '@synrace/agents';
import { resolveProfile, resolveTopology } from '../src/inputs/lab-inputs';
import { renderHtmlReport } from '../src/report/html-report';
import { candidateBoards, judgeSite, measuredNoiseMs, missesBeyondNoise, renderVerdicts, type VerifyMode } from '../src/verify';

const topology = loadTopology(resolveTopology('world'));
const predictions = predict(topology, loadProfile(resolveProfile('world'), topology));
const tokyo = predictions.find((p) => p.clientSite === 'tokyo')!;
const host = addressOf(interfaceOn(topology.boards.find((b) => b.name === tokyo.hostBoard)!, 'lan')!.address);
const boards = candidateBoards(topology);
const addressOfBoard = (board: string) => [...boards].find(([, b]) => b === board)![0];

/** Tokyo's connections, each served by `board` and bound in the table with the given via. */
function judge(mode: VerifyMode, vias: Via[], board = tokyo.winner) {
  const ports = vias.map((_, i) => 40001 + i);
  const observed = ports.map((clientPort) => ({ clientPort, servedBy: board, handshakeMs: 70, httpCode: 200 }));
  const table = { entries: ports.map((port, i) => ({ client: `${host}:${port}`, winner: addressOfBoard(board), via: vias[i] })) };
  return judgeSite(tokyo, mode, mode === 'cached' ? 'plain' : mode, observed, table, host, boards);
}

describe('verify: modes', () => {
  it('judges a wrong winner against the noise measured in the same run: forgiven within it, a failure beyond it', () => {
    const plain = tokyo.modes.find((m) => m.mode === 'plain')!;
    const wrong = { ...judge('plain', ['race'], 'lon-origin'), clientSite: 'tokyo' };
    const late = (ms: number) => ({ ...judge('plain', ['race']), connections: [{ ...judge('plain', ['race']).connections[0], handshakeMs: plain.handshakeMs + ms }] });
    // Tokyo's plain margin is 7 ms: a run whose matched races came in up to 4 ms late has 8 ms of noise.
    assert.equal(measuredNoiseMs([late(1), late(4), wrong]), 8);
    assert.deepEqual(missesBeyondNoise([late(4), wrong], predictions, measuredNoiseMs([late(4), wrong])), [], 'a 7 ms margin within 8 ms of noise');
    assert.deepEqual(missesBeyondNoise([late(1), wrong], predictions, measuredNoiseMs([late(1), wrong])), [wrong], 'a 7 ms margin beyond 2 ms of noise');
    assert.equal(measuredNoiseMs([late(-3)]), 0, 'races quicker than predicted add no noise');
  });

  it('predicts each race mode\'s own winner and time, and a cached run the plain winner at its RTT', () => {
    const bounded = judge('bounded', ['race']);
    const outcome = tokyo.modes.find((m) => m.mode === 'bounded')!;
    assert.deepEqual([bounded.predicted, bounded.predictedHandshakeMs], [outcome.winner, outcome.handshakeMs]);
    const cached = judge('cached', ['race', 'cache']);
    const winner = tokyo.candidates.find((c) => c.board === tokyo.winner)!;
    assert.deepEqual([cached.predicted, cached.race, cached.predictedHandshakeMs], [tokyo.winner, 'plain', winner.rttMs]);
  });

  it('passes a cached run only when the first connection raced and every later one came through the cache', () => {
    assert.equal(judge('cached', ['race', 'cache', 'cache']).ok, true);
    assert.equal(judge('cached', ['race', 'race', 'cache']).ok, false, 'a later connection that raced');
    assert.equal(judge('cached', ['cache', 'cache']).ok, false, 'a cache that was not emptied first');
    assert.equal(judge('cached', ['race', 'race-after-cache']).ok, false, 'a cached winner that missed its deadline');
    assert.equal(judge('cached', ['race', 'cache'], 'lon-origin').ok, false, 'the wrong winner, cached or not');
  });

  it('passes a race mode only when every connection raced (the caches are off)', () => {
    assert.equal(judge('plain', ['race', 'race']).ok, true);
    assert.equal(judge('plain', ['race', 'cache']).ok, false);
  });

  it('shows how each connection went, in the table and in the report', () => {
    const verdict = judge('cached', ['race', 'cache', 'race']);
    assert.match(renderVerdicts([verdict]), /cached \(plain\).*race 2, cache 1/);
    const html = renderHtmlReport({
      lab: { topology: 'world', profile: 'world', delayMode: 'userspace', configuration: 'A', date: new Date(0) },
      verdicts: [verdict], predictions, races: [],
      boardsByAddress: new Map([...boards, [host, tokyo.hostBoard]]),
    });
    assert.match(html, /<th>via<\/th>/);
    assert.match(html, /tokyo, cached after the plain race: predicted rep-iad/);
    assert.equal((html.match(/<tr class="fail">/g) ?? []).length, 1, 'only the third connection, which raced, fails');
    assert.ok(boardsWithRole(topology, 'replica').some((r) => r.name === tokyo.winner), 'tokyo is won by a replica');
  });
});
