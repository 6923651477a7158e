import { strict as assert } from 'node:assert';
import { TcpFlag } from '../src/packet/tcp';
import { MAX_CONNECTIONS_PER_CLIENT_SOCKET, TranslationTable } from '../src/table/translation-table';
import { keyOf, REPLICA_A, SERVER, start, won } from './fixtures/table-helpers';

describe('TranslationTable: bounds', () => {
  it('evicts the least recently seen pending entry to admit a new one', () => {
    const table = new TranslationTable({ maxEntries: 3 });
    start(table, keyOf(1), 0);
    start(table, keyOf(2), 1);
    start(table, keyOf(3), 2);
    start(table, keyOf(1), 3);
    start(table, keyOf(4), 4);
    assert.equal(table.get(keyOf(2)), undefined, 'port 2: oldest once port 1 retransmitted');
    assert.ok(table.get(keyOf(1)) && table.get(keyOf(3)) && table.get(keyOf(4)));
    assert.deepEqual([table.size, table.counters.evicted], [3, 1]);
  });

  it('never grows past its bound under a SYN flood, and evicts no established entry', () => {
    const table = new TranslationTable({ maxEntries: 100 });
    const established = [won(table, keyOf(1), REPLICA_A, 0), won(table, keyOf(2), SERVER, 0)];
    for (let i = 0; i < 10_000; i++) {
      table.getOrCreatePending({ clientIp: 0x0a000000 + i, clientPort: 1024 + (i % 50_000), serverIp: SERVER, serverPort: 80 }, i, i);
      assert.ok(table.size <= 100);
    }
    assert.equal(table.get(keyOf(1)), established[0]);
    assert.equal(table.get(keyOf(2)), established[1]);
    assert.deepEqual([table.counters.created, table.counters.evicted, table.counters.refused], [10_002, 10_000 - 98, 0]);
  });

  it('refuses a new connection, and counts it, when only established entries remain', () => {
    const table = new TranslationTable({ maxEntries: 2 });
    won(table, keyOf(1), REPLICA_A, 0);
    won(table, keyOf(2), SERVER, 0);
    assert.deepEqual(table.getOrCreatePending(keyOf(3), 1, 1), { entry: null, refused: 'table-full' });
    assert.deepEqual([table.size, table.counters.refused, table.counters.evicted], [2, 1, 0]);
  });

  it('admits again once an entry ends', () => {
    const table = new TranslationTable({ maxEntries: 1 });
    const entry = won(table, keyOf(1), REPLICA_A, 0);
    assert.equal(table.getOrCreatePending(keyOf(2), 1, 1).entry, null);
    table.recordSegment(entry, 'client', TcpFlag.RST, 2);
    assert.ok(table.getOrCreatePending(keyOf(2), 1, 3).entry);
  });

  it('caps the connections of one client socket, so no lookup walks a long chain', () => {
    const table = new TranslationTable();
    for (let i = 0; i < MAX_CONNECTIONS_PER_CLIENT_SOCKET; i++) start(table, keyOf(40000, SERVER + i), 0);
    assert.deepEqual(table.getOrCreatePending(keyOf(40000, SERVER + 100), 1, 0), { entry: null, refused: 'client-socket-full' });
    assert.ok(table.getOrCreatePending(keyOf(40001, SERVER + 100), 1, 0).entry, 'another port of the same client');
    for (let i = 0; i < MAX_CONNECTIONS_PER_CLIENT_SOCKET; i++) assert.ok(table.get(keyOf(40000, SERVER + i)), `server ${i} still found`);
  });

  it('keeps its chains intact when entries in the middle of a chain go', () => {
    const table = new TranslationTable();
    const entries = [0, 1, 2].map((i) => start(table, keyOf(40000, SERVER + i), 0));
    table.recordSegment(entries[1], 'client', TcpFlag.RST, 1);
    assert.equal(table.get(keyOf(40000, SERVER)), entries[0]);
    assert.equal(table.get(keyOf(40000, SERVER + 1)), undefined);
    assert.equal(table.get(keyOf(40000, SERVER + 2)), entries[2]);
    table.recordSegment(entries[2], 'client', TcpFlag.RST, 1);
    table.recordSegment(entries[0], 'client', TcpFlag.RST, 1);
    assert.equal(table.size, 0);
    assert.equal(table.getOrCreatePending(keyOf(40000, SERVER), 1, 2).entry?.createdAt, 2);
  });
});

describe('TranslationTable: dump', () => {
  it('describes entries with dotted addresses, states, winner, ages and the counters, in JSON-safe form', () => {
    const table = new TranslationTable({ maxEntries: 10 });
    start(table, keyOf(40000), 100);
    const bound = won(table, keyOf(40001), REPLICA_A, 200);
    table.recordSegment(bound, 'client', TcpFlag.ACK, 700);
    const dump = table.dump(1_000);
    assert.deepEqual(JSON.parse(JSON.stringify(dump)), dump);
    assert.deepEqual([dump.size, dump.maxEntries, dump.counters.created, dump.counters.wonByReplica], [2, 10, 2, 1]);
    assert.deepEqual(dump.entries, [
      {
        client: '10.0.0.5:40000', server: '198.51.100.7:80', state: 'pending', winner: null, via: 'race', idleClass: 'pending',
        ageMs: 900, idleMs: 900, synRetransmits: 0, finFromClient: false, finFromServer: false, path: 'agent', kernelPackets: { toServer: 0, toClient: 0 },
      },
      {
        client: '10.0.0.5:40001', server: '198.51.100.7:80', state: 'replica', winner: '203.0.113.1', via: 'race', idleClass: 'established',
        ageMs: 800, idleMs: 300, synRetransmits: 0, finFromClient: false, finFromServer: false, path: 'agent', kernelPackets: { toServer: 0, toClient: 0 },
      },
    ]);
  });

  it('hands out a copy of the counters', () => {
    const table = new TranslationTable();
    const dump = table.dump(0);
    start(table, keyOf(1), 0);
    assert.equal(dump.counters.created, 0);
  });
});
