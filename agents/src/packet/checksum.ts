// One's complement arithmetic of the Internet checksum (RFC 1071) and its
// incremental form (RFC 1624), so that rewriting a field costs O(1) instead of
// a pass over the whole segment.

/** Folds a sum of 16-bit words to 16 bits with end-around carry. */
export function fold(sum: number): number {
  // Division, not >>>: a caller may pass sums beyond 32 bits.
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * One's complement sum of buf[start, end) read as big-endian 16-bit words, an
 * odd last byte padded with zero. `initial` continues an earlier sum (e.g. a
 * pseudo-header). A packet's checksum verifies when this sum is 0xffff.
 */
export function onesComplementSum(buf: Buffer, start: number, end: number, initial = 0): number {
  let sum = initial;
  let i = start;
  // Unfolded until the end: 65535 bytes of 0xff stay far below 2^53.
  for (; i + 1 < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < end) sum += buf[i] << 8;
  return fold(sum);
}

/**
 * The Internet checksum of buf[start, end) (checksum field zero or outside the
 * range), continuing the one's complement sum `initial`.
 */
export function internetChecksum(buf: Buffer, start: number, end: number, initial = 0): number {
  return ~onesComplementSum(buf, start, end, initial) & 0xffff;
}

/**
 * RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'). `oldWord` and `newWord` may also be
 * folded sums of several changed words, which is how longer changes are applied.
 * Unlike eqn. 2 it never produces 0xffff, so it agrees with a fresh computation.
 */
export function updateChecksum16(checksum: number, oldWord: number, newWord: number): number {
  return ~fold((~checksum & 0xffff) + (~oldWord & 0xffff) + newWord) & 0xffff;
}

/** RFC 1624 update for a 32-bit field at an even offset (an IPv4 address, a sequence number). */
export function updateChecksum32(checksum: number, oldValue: number, newValue: number): number {
  return updateChecksum16(checksum, fold((oldValue >>> 16) + (oldValue & 0xffff)), fold((newValue >>> 16) + (newValue & 0xffff)));
}
