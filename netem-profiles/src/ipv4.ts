/** IPv4 addresses and prefixes as 32-bit unsigned integers, enough for containment checks. */

export interface Prefix {
  /** The address as written (host bits may be set, as in an interface address). */
  address: number;
  length: number;
}

/** Returns undefined for anything that is not a dotted quad with octets 0..255. */
export function parseAddress(text: string): number | undefined {
  const octets = text.split('.');
  if (octets.length !== 4 || !octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255)) {
    return undefined;
  }
  return octets.reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function parsePrefix(text: string): Prefix | undefined {
  const [addr, len, extra] = text.split('/');
  const address = parseAddress(addr);
  const length = Number(len);
  if (address === undefined || extra !== undefined || !/^\d{1,2}$/.test(len ?? '') || length > 32) {
    return undefined;
  }
  return { address, length };
}

export function mask(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
}

export function networkOf(p: Prefix): number {
  return (p.address & mask(p.length)) >>> 0;
}

export function contains(net: Prefix, address: number): boolean {
  return ((address & mask(net.length)) >>> 0) === networkOf(net);
}

export function overlaps(a: Prefix, b: Prefix): boolean {
  return contains(a, networkOf(b)) || contains(b, networkOf(a));
}

export function formatAddress(address: number): string {
  return [24, 16, 8, 0].map((shift) => (address >>> shift) & 0xff).join('.');
}

/** The address part of `10.1.0.1/24`. */
export function addressOf(cidr: string): string {
  return cidr.split('/')[0];
}
