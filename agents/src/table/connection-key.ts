// How packets name table entries. Keys are read, never kept, so a caller can
// refill one object per packet instead of allocating.

/** A connection as the client sent its start packet. */
export interface ConnectionKey {
  clientIp: number;
  clientPort: number;
  serverIp: number;
  serverPort: number;
}

/**
 * A packet travelling towards the client, from the server or from a replica:
 * its destination is the client, its source port the server port, and its
 * source (after cracking, where the configuration encapsulates) the answerer.
 */
export interface AnswerKey {
  clientIp: number;
  clientPort: number;
  serverPort: number;
  answerer: number;
}

/** A segment's addresses and ports, as the packet views hold them. */
interface Addressed {
  ip: { src: number; dst: number };
  tcp: { srcPort: number; dstPort: number };
}

/** Fills `key` from a segment towards the server. */
export function readConnectionKey(key: ConnectionKey, { ip, tcp }: Addressed): void {
  key.clientIp = ip.src;
  key.clientPort = tcp.srcPort;
  key.serverIp = ip.dst;
  key.serverPort = tcp.dstPort;
}

/** Fills `answer` from a segment towards the client; the answerer is its source unless named. */
export function readAnswerKey(answer: AnswerKey, { ip, tcp }: Addressed, answerer = ip.src): void {
  answer.clientIp = ip.dst;
  answer.clientPort = tcp.dstPort;
  answer.serverPort = tcp.srcPort;
  answer.answerer = answerer;
}

/** (ip, port) as one exact number: 48 bits fit a double, a Map hashes it without allocating. */
export function clientSocketId(ip: number, port: number): number {
  return ip * 0x10000 + port;
}
