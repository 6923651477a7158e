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

/** (ip, port) as one exact number: 48 bits fit a double, a Map hashes it without allocating. */
export function clientSocketId(ip: number, port: number): number {
  return ip * 0x10000 + port;
}
