import { createHash } from 'node:crypto';
import { utils, type ServerHostKeyAlgorithm } from 'ssh2';

/** A host public key the client insists on, parsed from an OpenSSH one-line key. */
export interface PinnedHostKey {
  type: string;
  /** The key in SSH wire format, as servers send it during key exchange. */
  blob: Buffer;
  fingerprint: string;
  /**
   * Only these host key algorithms are offered to the server. A board usually
   * has several host keys (rsa, ecdsa, ed25519); without this restriction the
   * server may present another of its keys than the pinned one and the
   * connection would be refused although the board is the right one.
   */
  algorithms: ServerHostKeyAlgorithm[];
}

export function parsePinnedHostKey(line: string): PinnedHostKey {
  const parsed = utils.parseKey(line.trim());
  if (parsed instanceof Error) {
    throw new Error(`pinned host key is not an OpenSSH public key line: ${parsed.message}`);
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key.isPrivateKey()) {
    throw new Error('pinned host key must be a public key, not a private key');
  }
  const blob = key.getPublicSSH();
  return { type: key.type, blob, fingerprint: fingerprintOf(blob), algorithms: algorithmsFor(key.type) };
}

/** OpenSSH's fingerprint notation (what `ssh-keygen -lf` prints), so users can compare. */
export function fingerprintOf(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** The key type named at the start of an SSH wire-format key (string length + name). */
export function keyTypeOf(blob: Buffer): string {
  return blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('latin1');
}

function algorithmsFor(type: string): ServerHostKeyAlgorithm[] {
  // One RSA key signs with any of these; the others name their algorithm by key type.
  if (type === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return [type as ServerHostKeyAlgorithm];
}
