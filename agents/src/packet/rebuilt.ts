/** Result of an operation that has to copy a packet because it grows. */
export type Rebuilt<Reason extends string> = { ok: true; packet: Buffer } | { ok: false; reason: Reason };
