// IPv4 addresses travel through the agents as unsigned 32-bit numbers; these
// convert at the edges (configuration, logs, the control API).

export function ipToString(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

// Leading zeros are refused: inet_aton would read "010" as octal 8.
const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** Dotted quad to an unsigned 32-bit number; null when it is not exactly one. */
export function parseIp(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let ip = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    ip = ip * 256 + octet;
  }
  return ip;
}
