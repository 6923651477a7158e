import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tarOf } from './tar-stream';

/** The static content every web board serves, identical everywhere so a download proves nothing but the path. */
export interface WebContent {
  dir: string;
  files: { path: string; bytes: number; sha256: string }[];
  /** The whole of it as one tar stream under var/www/synrace/, made once for every board. */
  tar: Promise<Buffer>;
}

export const DOWNLOAD_PATH = '/static/blob-10m.bin';
/** Where a board's nginx serves the content from, below the board's root. */
export const WEB_ROOT = 'var/www/synrace';
const DOWNLOAD_BYTES = 10 * 1024 * 1024;

/** Deterministic bytes (xorshift), so every lab's blob hashes the same and a test can name the expected sha256. */
function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  return out;
}

export function writeWebContent(dir: string): WebContent {
  const files: [string, Buffer][] = [
    ['/index.html', Buffer.from('<!doctype html><title>synrace</title><p>static content, replicated to every replica</p>\n')],
    [DOWNLOAD_PATH, pseudoRandomBytes(DOWNLOAD_BYTES, 0x5352)],
  ];
  for (const [path, data] of files) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), data);
  }
  return {
    dir,
    files: files.map(([path, data]) => ({ path, bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') })),
    tar: tarOf(dir, `${WEB_ROOT}/`),
  };
}
