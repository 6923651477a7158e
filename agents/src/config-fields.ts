// Field readers for the JSON role configurations the orchestrator writes, so a
// bad file fails at startup with the offending field named.
import { ConfigError } from './config-error';
import { parseIp } from './packet';

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function objectAt(v: unknown, where: string): Json {
  if (!isObject(v)) throw new ConfigError(`${where} must be an object`);
  return v;
}

export function arrayAt(obj: Json, key: string, where: string): unknown[] {
  const v = obj[key];
  if (!Array.isArray(v)) throw new ConfigError(`${where}.${key} must be an array`);
  return v;
}

export function nonEmptyString(obj: Json, key: string, where: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || v === '') throw new ConfigError(`${where}.${key} must be a non-empty string`);
  return v;
}

export function numberIn(obj: Json, key: string, where: string, min: number, max: number, minExclusive = false): number {
  const v = obj[key];
  const ok = typeof v === 'number' && Number.isFinite(v) && (minExclusive ? v > min : v >= min) && v <= max;
  if (!ok) {
    const range = `${minExclusive ? '>' : '>='} ${min}${max === Infinity ? '' : ` and <= ${max}`}`;
    throw new ConfigError(`${where}.${key} must be a number ${range}, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function optionalBoolean(obj: Json, key: string, where: string, absent: boolean): boolean {
  const v = obj[key];
  if (v === undefined) return absent;
  if (typeof v !== 'boolean') throw new ConfigError(`${where}.${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

export function oneOf<T extends string>(obj: Json, key: string, where: string, allowed: readonly T[]): T {
  const v = obj[key];
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new ConfigError(`${where}.${key} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

export function address(obj: Json, key: string, where: string): number {
  const ip = parseIp(nonEmptyString(obj, key, where));
  if (ip === null) throw new ConfigError(`${where}.${key} must be an IPv4 address, got ${JSON.stringify(obj[key])}`);
  return ip;
}

export function addressList(obj: Json, key: string, where: string): number[] {
  const v = obj[key];
  if (!Array.isArray(v)) throw new ConfigError(`${where}.${key} must be an array of IPv4 addresses`);
  return v.map((_, i) => address(v as unknown as Json, String(i), `${where}.${key}`));
}

export function portList(obj: Json, key: string, where: string): number[] {
  const v = obj[key];
  if (!Array.isArray(v) || v.length === 0) throw new ConfigError(`${where}.${key} must be a non-empty array of ports`);
  return v.map((_, i) => numberIn(v as unknown as Json, String(i), `${where}.${key}`, 1, 65535));
}

/** An address list that must name at least one address (an empty allow-list would refuse everything). */
export function nonEmptyAddressList(obj: Json, key: string, where: string): number[] {
  const list = addressList(obj, key, where);
  if (list.length === 0) throw new ConfigError(`${where}.${key} must name at least one IPv4 address`);
  return list;
}

/** An IPv4 prefix as a network and a mask, for membership tests. */
export interface AddressPrefix {
  network: number;
  mask: number;
}

export function prefixContains(prefix: AddressPrefix, ip: number): boolean {
  return ((ip & prefix.mask) >>> 0) === prefix.network;
}

export function prefixList(obj: Json, key: string, where: string): AddressPrefix[] {
  const v = obj[key];
  if (!Array.isArray(v) || v.length === 0) throw new ConfigError(`${where}.${key} must be a non-empty array of IPv4 prefixes (a.b.c.d/n)`);
  return v.map((text: unknown, i) => {
    const m = typeof text === 'string' ? /^([\d.]+)\/(\d{1,2})$/.exec(text) : null;
    const ip = m ? parseIp(m[1]) : null;
    const length = m ? Number(m[2]) : NaN;
    if (ip === null || !(length >= 0 && length <= 32)) throw new ConfigError(`${where}.${key}[${i}] must be an IPv4 prefix (a.b.c.d/n), got ${JSON.stringify(text)}`);
    const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
    if (((ip & mask) >>> 0) !== ip) throw new ConfigError(`${where}.${key}[${i}] has host bits set: ${JSON.stringify(text)}`);
    return { network: ip, mask };
  });
}
