import { strict as assert } from 'node:assert';
import { TranslationTable } from '../src/table/translation-table';
import { TcpFlag } from '../src/packet';
import { CLIENT, ISN, keyOf, REPLICA_A, REPLICA_B, SERVER, start, won, SERVER_ISN } from './fixtures/table-helpers';

describe('TranslationTable: start packets', () => {
  it('creates a pending entry for a new key, found by that key only', () => {
    const table = new TranslationTable();
    const result = table.getOrCreatePending(keyOf(40000), ISN, 5);
    assert.ok(result.entry);
    assert.equal(result.created, true);
    assert.deepEqual([result.entry.state, result.entry.winner, result.entry.createdAt], ['pending', null, 5]);
    assert.equal(table.get(keyOf(40000)), result.entry);
    assert.equal(table.get(keyOf(40001)), undefined);
    assert.equal(table.get(keyOf(40000, SERVER, 443)), undefined);
    assert.equal(table.get(keyOf(40000, REPLICA_A)), undefined);
    assert.equal(table.counters.created, 1);
  });

  it('reuses the entry for a retransmitted SYN and counts it', () => {
    const table = new TranslationTable();
    const first = start(table, keyOf(40000), 0);
    const again = table.getOrCreatePending(keyOf(40000), ISN, 1000);
    assert.deepEqual(again, { entry: first, created: false });
    assert.equal(first.synRetransmits, 1);
    assert.deepEqual([table.size, table.counters.created, table.counters.retransmittedSyns], [1, 1, 1]);
  });

  it('treats a retransmitted SYN of a won connection as a retransmission too (its SYN+ACK was lost)', () => {
    const table = new TranslationTable();
    const entry = won(table, keyOf(40000), REPLICA_A, 0);
    assert.deepEqual(table.getOrCreatePending(keyOf(40000), ISN, 10), { entry, created: false });
    assert.equal(entry.state, 'replica');
  });

  it('replaces the entry when the client reuses the key with a new initial sequence number', () => {
    const table = new TranslationTable();
    const old = won(table, keyOf(40000), REPLICA_A, 0);
    const result = table.getOrCreatePending(keyOf(40000), ISN + 5000, 10);
    assert.ok(result.entry && result.created);
    assert.notEqual(result.entry, old);
    assert.equal(table.get(keyOf(40000)), result.entry);
    assert.deepEqual([table.size, table.counters.replaced], [1, 1]);
  });
});

describe('TranslationTable: the race', () => {
  it('binds to the replica whose acknowledgement comes first; the server later is late, the replica again a duplicate', () => {
    const table = new TranslationTable();
    const entry = start(table, keyOf(40000), 0);
    assert.equal(table.recordAnswer(entry, REPLICA_A, ISN + 1, 3, SERVER_ISN), 'won');
    assert.deepEqual([entry.state, entry.winner], ['replica', REPLICA_A]);
    assert.equal(table.recordAnswer(entry, SERVER, ISN + 1, 4, SERVER_ISN), 'late');
    assert.equal(table.recordAnswer(entry, REPLICA_B, ISN + 1, 5, SERVER_ISN), 'late');
    assert.equal(table.recordAnswer(entry, REPLICA_A, ISN + 1, 6, SERVER_ISN), 'duplicate');
    assert.deepEqual([entry.state, entry.winner], ['replica', REPLICA_A]);
    assert.deepEqual([table.counters.wonByReplica, table.counters.wonByOrigin, table.counters.lateAnswers], [1, 0, 2]);
  });

  it('keeps an origin win as a tombstone, so a replica answering later is still late', () => {
    const table = new TranslationTable();
    const entry = won(table, keyOf(40000), SERVER, 0);
    assert.deepEqual([entry.state, entry.winner], ['origin', SERVER]);
    assert.equal(table.recordAnswer(entry, REPLICA_A, ISN + 1, 1, SERVER_ISN), 'late');
    assert.deepEqual([table.counters.wonByOrigin, table.counters.lateAnswers, table.size], [1, 1, 1]);
  });

  it("does not let an acknowledgement of another sequence number win or count as late", () => {
    const table = new TranslationTable();
    const entry = start(table, keyOf(40000), 0);
    assert.equal(table.recordAnswer(entry, REPLICA_A, ISN + 2, 1, SERVER_ISN), 'unrelated');
    assert.equal(entry.state, 'pending');
    assert.equal(table.recordAnswer(entry, REPLICA_B, ISN + 1, 2, SERVER_ISN), 'won');
    assert.equal(table.recordAnswer(entry, REPLICA_A, ISN, 3, SERVER_ISN), 'unrelated');
    assert.deepEqual([table.counters.unrelatedAnswers, table.counters.lateAnswers], [2, 0]);
  });

  it('expects ack = ISN + 1 modulo 2^32', () => {
    const table = new TranslationTable();
    const entry = start(table, keyOf(40000), 0, 0xffffffff);
    assert.equal(table.recordAnswer(entry, REPLICA_A, 0, 1, SERVER_ISN), 'won');
  });
});

describe('TranslationTable: finding the entry of an answer', () => {
  const answer = (answerer: number, clientPort = 40000, serverPort = 80) => ({ clientIp: CLIENT, clientPort, serverPort, answerer });

  it('finds a pending entry for the server and for any replica, by client socket and server port', () => {
    const table = new TranslationTable();
    const entry = start(table, keyOf(40000), 0);
    assert.equal(table.findForAnswer(answer(SERVER)), entry);
    assert.equal(table.findForAnswer(answer(REPLICA_A)), entry);
    assert.equal(table.findForAnswer(answer(REPLICA_A, 40001)), undefined, 'other client port');
    assert.equal(table.findForAnswer(answer(REPLICA_A, 40000, 443)), undefined, 'other server port');
    assert.equal(table.findForAnswer({ ...answer(REPLICA_A), clientIp: CLIENT + 1 }), undefined, 'other client');
  });

  it('finds a bound entry from its winner and from late answerers', () => {
    const table = new TranslationTable();
    const entry = won(table, keyOf(40000), REPLICA_A, 0);
    assert.equal(table.findForAnswer(answer(REPLICA_A)), entry);
    assert.equal(table.findForAnswer(answer(REPLICA_B)), entry);
  });

  it('tells apart two servers sharing a client socket and port by answerer, and refuses to guess for a stranger', () => {
    const table = new TranslationTable();
    const toServer = won(table, keyOf(40000), REPLICA_A, 0);
    const otherServer = SERVER + 1;
    const toOther = start(table, keyOf(40000, otherServer), 0);
    assert.equal(table.findForAnswer(answer(SERVER)), toServer);
    assert.equal(table.findForAnswer(answer(REPLICA_A)), toServer, 'the bound replica');
    assert.equal(table.findForAnswer(answer(otherServer)), toOther);
    assert.equal(table.findForAnswer(answer(REPLICA_B)), undefined, 'could answer for either');
  });
});

describe('translation table: resets from the server side', () => {
  it('believes a RST only at the sequence number the client expects next', () => {
    const table = new TranslationTable();
    const entry = table.getOrCreatePending(keyOf(40100), ISN, 0).entry!;
    assert.equal(table.recordAnswer(entry, REPLICA_A, ISN + 1, 1, SERVER_ISN), 'won');
    assert.equal(table.acceptsServerReset(entry, SERVER_ISN + 1), true, 'right after the SYN+ACK');
    table.recordClientAcknowledgement(entry, TcpFlag.ACK, SERVER_ISN + 1, 64240);
    table.recordSegment(entry, 'server', TcpFlag.ACK, 2, SERVER_ISN + 1, 1448);
    assert.equal(table.acceptsServerReset(entry, SERVER_ISN + 1), false, 'an old sequence number is a forgery');
    assert.equal(table.acceptsServerReset(entry, SERVER_ISN + 1 + 1448 + 7), false, 'so is a guess ahead');
    assert.equal(table.acceptsServerReset(entry, SERVER_ISN + 1 + 1448), true);
    table.recordSegment(entry, 'server', TcpFlag.ACK, 3, SERVER_ISN + 1, 1448);
    assert.equal(table.acceptsServerReset(entry, SERVER_ISN + 1 + 1448), true, 'a retransmission does not move it back');
  });

  it('cannot be walked blind: segments outside the client\'s window never move the number', () => {
    const table = new TranslationTable();
    const entry = table.getOrCreatePending(keyOf(40101), ISN, 0).entry!;
    table.recordAnswer(entry, REPLICA_A, ISN + 1, 1, SERVER_ISN);
    table.recordClientAcknowledgement(entry, TcpFlag.ACK, SERVER_ISN + 1, 64240);
    for (const seq of [0, 2 ** 30, 2 ** 31, 3 * 2 ** 30]) table.recordSegment(entry, 'server', TcpFlag.ACK, 2, seq, 0);
    assert.equal(table.acceptsServerReset(entry, 3 * 2 ** 30), false);
    assert.equal(table.acceptsServerReset(entry, SERVER_ISN + 1), true);
    assert.equal(table.counters.serverSegmentsBeyondWindow, 2, "the two that are ahead at all");
  });

  it('follows the client\'s acknowledgements forward only, and scales its window when both ends offered scaling', () => {
    const table = new TranslationTable();
    const entry = table.getOrCreatePending(keyOf(40102), ISN, 0).entry!;
    entry.clientWindowShift = 7;
    table.recordAnswer(entry, SERVER, ISN + 1, 1, SERVER_ISN, 7);
    table.recordClientAcknowledgement(entry, TcpFlag.ACK, SERVER_ISN + 5001, 1000);
    assert.equal(entry.serverNextSeq, SERVER_ISN + 5001);
    assert.equal(entry.clientWindow, 128_000);
    table.recordClientAcknowledgement(entry, TcpFlag.ACK, SERVER_ISN + 1, 1000);
    assert.equal(entry.serverNextSeq, SERVER_ISN + 5001, 'an old acknowledgement does not move it back');
    table.recordSegment(entry, 'server', TcpFlag.ACK, 2, SERVER_ISN + 5001, 100_000);
    assert.equal(table.acceptsServerReset(entry, SERVER_ISN + 105_001), true, 'a segment inside the scaled window moves it');
  });

  it('ends a pending entry the origin refused', () => {
    const table = new TranslationTable();
    const entry = table.getOrCreatePending(keyOf(40103), ISN, 0).entry!;
    table.endRefused(entry);
    assert.equal(table.size, 0);
    assert.equal(table.counters.refusedByOrigin, 1);
  });
});
