import { strict as assert } from 'node:assert';
import { TcpFlag } from '../src/packet/tcp';
import { TranslationTable } from '../src/table/translation-table';
import { keyOf, REPLICA_A, SERVER, start, won, SERVER_ISN } from './fixtures/table-helpers';

const TIMEOUTS = { pendingIdleMs: 10_000, establishedIdleMs: 100_000, closingIdleMs: 5_000 };

describe('TranslationTable: ends of connections', () => {
  it('lingers after FINs from both sides, still translating, then expires on the closing timeout', () => {
    const table = new TranslationTable(TIMEOUTS);
    const entry = won(table, keyOf(40000), REPLICA_A, 0);
    assert.equal(table.recordSegment(entry, 'client', TcpFlag.FIN | TcpFlag.ACK, 10), 'open');
    assert.equal(table.recordSegment(entry, 'client', TcpFlag.FIN | TcpFlag.ACK, 20), 'open', 'a retransmitted FIN is still one side');
    assert.equal(table.recordSegment(entry, 'server', TcpFlag.FIN | TcpFlag.ACK, 30), 'closing');
    assert.equal(table.recordSegment(entry, 'client', TcpFlag.ACK, 40), 'closing');
    assert.equal(table.sweep(40 + 4_999), 0);
    assert.equal(table.get(keyOf(40000)), entry);
    assert.equal(table.sweep(40 + 5_000), 1);
    assert.equal(table.get(keyOf(40000)), undefined);
    assert.equal(table.counters.expired, 1);
  });

  for (const side of ['client', 'server'] as const) {
    it(`ends at once on a RST from the ${side}`, () => {
      const table = new TranslationTable(TIMEOUTS);
      const entry = won(table, keyOf(40000), REPLICA_A, 0);
      assert.equal(table.recordSegment(entry, side, TcpFlag.RST, 5), 'ended');
      assert.equal(table.get(keyOf(40000)), undefined);
      assert.equal(table.findForAnswer({ clientIp: entry.clientIp, clientPort: 40000, serverPort: 80, answerer: REPLICA_A }), undefined);
      assert.deepEqual([table.size, table.counters.reset], [0, 1]);
    });
  }

  it('ignores a stale reference to an ended entry: nothing is resurrected or counted twice', () => {
    const table = new TranslationTable(TIMEOUTS);
    const ended = start(table, keyOf(40000), 0);
    const other = start(table, keyOf(40001), 0);
    table.recordSegment(ended, 'client', TcpFlag.RST, 1);
    assert.equal(table.recordSegment(ended, 'client', TcpFlag.RST, 2), 'ended');
    assert.equal(table.recordSegment(ended, 'server', TcpFlag.ACK, 2), 'ended');
    assert.equal(table.recordAnswer(ended, REPLICA_A, ended.isn + 1, 3, SERVER_ISN), 'unrelated');
    assert.deepEqual([table.size, table.counters.reset, table.counters.wonByReplica], [1, 1, 0]);
    assert.equal(table.get(keyOf(40001)), other);
    assert.equal(table.sweep(1_000_000), 1);
    assert.equal(table.size, 0);
  });

  it('expires an unanswered entry after the pending timeout, a retransmitted SYN postponing it', () => {
    const table = new TranslationTable(TIMEOUTS);
    start(table, keyOf(40000), 0);
    start(table, keyOf(40001), 0);
    start(table, keyOf(40001), 3_000);
    assert.equal(table.sweep(9_999), 0);
    assert.equal(table.sweep(10_000), 1);
    assert.equal(table.get(keyOf(40000)), undefined);
    assert.ok(table.get(keyOf(40001)));
    assert.equal(table.sweep(13_000), 1);
    assert.equal(table.size, 0);
  });

  it('keeps an established entry for the established timeout after its last segment', () => {
    const table = new TranslationTable(TIMEOUTS);
    const replica = won(table, keyOf(40000), REPLICA_A, 0);
    won(table, keyOf(40001), SERVER, 0);
    assert.equal(table.sweep(50_000), 0, 'past the pending timeout, established entries stay');
    table.recordSegment(replica, 'server', TcpFlag.ACK, 60_000);
    assert.equal(table.sweep(100_000), 1, 'the origin tombstone idle since 0');
    assert.equal(table.sweep(159_999), 0);
    assert.equal(table.sweep(160_000), 1);
    assert.equal(table.counters.expired, 2);
  });

  it('asks where else an entry was seen only when it is about to expire, and keeps it if it was seen since', () => {
    const table = new TranslationTable(TIMEOUTS);
    const carried = won(table, keyOf(40000), REPLICA_A, 0);
    const idle = won(table, keyOf(40001), REPLICA_A, 0);
    const asked: number[] = [];
    const elsewhere = (entry: typeof carried) => {
      asked.push(entry.clientPort);
      return entry === carried ? 90_000 : 0;
    };
    assert.equal(table.sweep(99_999, elsewhere), 0);
    assert.deepEqual(asked, [], 'nothing is asked before the timeout');
    assert.equal(table.sweep(100_000, elsewhere), 1, 'the idle one expires; the carried one was seen at 90 s');
    assert.deepEqual(asked.sort(), [40000, 40001]);
    assert.equal(table.get(keyOf(40000)), carried);
    assert.equal(idle.inTable, false);
    assert.equal(table.sweep(189_999, elsewhere), 0);
    assert.equal(table.sweep(190_000, elsewhere), 1, 'nothing newer elsewhere: it expires too');
  });

  it('sweeps 100k idle-but-live entries cheaply: only list heads are looked at', () => {
    const table = new TranslationTable({ ...TIMEOUTS, maxEntries: 100_000 });
    for (let i = 0; i < 100_000; i++) start(table, keyOf(i % 60_000, SERVER + Math.floor(i / 60_000)), i / 100);
    const began = process.hrtime.bigint();
    for (let second = 0; second < 1_000; second++) table.sweep(second);
    const ms = Number(process.hrtime.bigint() - began) / 1e6;
    assert.equal(table.size, 100_000);
    assert.ok(ms < 50, `1000 sweeps took ${ms} ms`);
  });
});
