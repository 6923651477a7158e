// Translation table speed at 100k entries: inserts, both lookup paths and an
// idle sweep, as the gateway's per-packet path uses them. Prints JSON (rates per second).
import type { AnswerKey, ConnectionKey } from '../src/table/connection-key';
import { TranslationTable } from '../src/table/translation-table';

const ENTRIES = 100_000;
const LOOKUPS = 2_000_000;
const SERVER_PORT = 80;
const SERVER = 0xc6336407;
const REPLICA = 0xcb007101;

// 100k clients behind the gateway, one connection each, half of them won by a replica.
const clientIps = Uint32Array.from({ length: ENTRIES }, (_, i) => 0x0a000000 + i * 7);
const clientPorts = Uint16Array.from({ length: ENTRIES }, (_, i) => 1024 + ((i * 7919) % 60_000));
// Uniform over all entries (every lookup a cache miss), and over 1000 busy
// connections (what a gateway mostly sees).
const uniformOrder = Uint32Array.from({ length: LOOKUPS }, () => Math.floor(Math.random() * ENTRIES));
const busyOrder = Uint32Array.from({ length: LOOKUPS }, () => Math.floor(Math.random() * 1000) * 97);
const SWEEPS = 1000;

function perSecond(count: number, run: () => void): number {
  const began = process.hrtime.bigint();
  run();
  return Math.round(count / (Number(process.hrtime.bigint() - began) / 1e9));
}

function main(): void {
  const table = new TranslationTable({ maxEntries: ENTRIES });
  // One key object refilled per packet, as the gateway does.
  const key: ConnectionKey = { clientIp: 0, clientPort: 0, serverIp: SERVER, serverPort: SERVER_PORT };
  const insertsPerSecond = perSecond(ENTRIES, () => {
    for (let i = 0; i < ENTRIES; i++) {
      key.clientIp = clientIps[i];
      key.clientPort = clientPorts[i];
      table.getOrCreatePending(key, i, 0);
    }
  });
  for (let i = 0; i < ENTRIES; i += 2) {
    key.clientIp = clientIps[i];
    key.clientPort = clientPorts[i];
    table.recordAnswer(table.get(key)!, REPLICA, i + 1, 0, i);
  }

  let found = 0;
  const clientSideLookups = (order: Uint32Array): number => perSecond(LOOKUPS, () => {
    for (let n = 0; n < LOOKUPS; n++) {
      const i = order[n];
      key.clientIp = clientIps[i];
      key.clientPort = clientPorts[i];
      if (table.get(key)) found++;
    }
  });

  // Bound entries answered by their replica, pending ones by the server.
  const answer: AnswerKey = { clientIp: 0, clientPort: 0, serverPort: SERVER_PORT, answerer: 0 };
  const answerLookups = (order: Uint32Array): number => perSecond(LOOKUPS, () => {
    for (let n = 0; n < LOOKUPS; n++) {
      const i = order[n];
      answer.clientIp = clientIps[i];
      answer.clientPort = clientPorts[i];
      answer.answerer = i % 2 === 0 ? REPLICA : SERVER;
      if (table.findForAnswer(answer)) found++;
    }
  });

  const result = {
    entries: table.size,
    insertsPerSecond,
    clientSideLookupsPerSecond: { uniform: clientSideLookups(uniformOrder), busy1000: clientSideLookups(busyOrder) },
    answerLookupsPerSecond: { uniform: answerLookups(uniformOrder), busy1000: answerLookups(busyOrder) },
    idleSweepsPerSecond: perSecond(SWEEPS, () => {
      for (let n = 0; n < SWEEPS; n++) table.sweep(n);
    }),
  };
  if (found !== 4 * LOOKUPS || table.size !== ENTRIES) throw new Error('benchmark lookups missed');
  console.log(JSON.stringify(result, null, 2));
}

main();
