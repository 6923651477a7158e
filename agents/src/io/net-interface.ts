// What the kernel path needs to know of a network interface beyond its index.
import { readFileSync } from 'node:fs';

export function interfaceMtu(name: string): number {
  return Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8'));
}
