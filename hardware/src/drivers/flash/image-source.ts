import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { run } from '../../host-command';

/** An SD-card image on disk, raw or xz-compressed; `open()` may be called again (e.g. to locate a verify mismatch). */
export interface ImageSource {
  path: string;
  format: 'raw' | 'xz';
  /** Uncompressed length in bytes; undefined when the container does not say. */
  size: number | undefined;
  open(): Readable;
}

export class ImageSourceError extends Error {
  constructor(readonly path: string, message: string) {
    super(`image ${path}: ${message}`);
    this.name = 'ImageSourceError';
  }
}

// Judged by content, not by name: a renamed .zip flashed as raw bytes boots nothing and
// only fails minutes later. Formats other than xz are named so the user knows to unpack.
const MAGIC: Array<{ format: string; bytes: number[] }> = [
  { format: 'xz', bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  { format: 'gzip', bytes: [0x1f, 0x8b] },
  { format: 'zip', bytes: [0x50, 0x4b, 0x03, 0x04] },
  { format: 'zstd', bytes: [0x28, 0xb5, 0x2f, 0xfd] },
  { format: 'bzip2', bytes: [0x42, 0x5a, 0x68] },
];

async function sniffFormat(path: string): Promise<string | undefined> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return MAGIC.find(({ bytes }) => bytesRead >= bytes.length && bytes.every((b, i) => head[i] === b))?.format;
  } finally {
    await handle.close();
  }
}

/** `xz --robot --list` prints a tab-separated "totals" line whose fifth field is the uncompressed size. */
export function parseXzRobotList(output: string): number | undefined {
  const totals = output.split('\n').find((line) => line.startsWith('totals\t'));
  const size = totals === undefined ? NaN : Number(totals.split('\t')[4]);
  return Number.isSafeInteger(size) ? size : undefined;
}

function xzStream(path: string): Readable {
  const out = new PassThrough({ highWaterMark: 4 << 20 });
  const xz = spawn('xz', ['--decompress', '--stdout', '--threads=0', '--', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  xz.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // The stream ends only once xz has exited cleanly: stdout closing alone would hide a
  // truncated or corrupt archive behind a short but "successful" read.
  xz.stdout.pipe(out, { end: false });
  xz.on('error', (err) => out.destroy(new ImageSourceError(path, `cannot run xz: ${err.message}`)));
  xz.on('close', (code, signal) => {
    if (code === 0) out.end();
    else if (!out.destroyed) out.destroy(new ImageSourceError(path, `xz failed (${code ?? signal}): ${stderr.trim()}`));
  });
  out.on('close', () => {
    if (xz.exitCode === null) xz.kill();
  });
  return out;
}

/** Describes the image at `path`; errors name the file. */
export async function openImageSource(path: string): Promise<ImageSource> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new ImageSourceError(path, (err as Error).message);
  }
  if (!info.isFile()) throw new ImageSourceError(path, 'not a regular file');
  const format = await sniffFormat(path);
  if (format === undefined) {
    if (path.endsWith('.xz')) throw new ImageSourceError(path, 'named .xz but is not xz data');
    return { path, format: 'raw', size: info.size, open: () => createReadStream(path, { highWaterMark: 4 << 20 }) };
  }
  if (format !== 'xz') throw new ImageSourceError(path, `${format}-compressed; only raw .img and .img.xz can be flashed`);
  const listing = await run(['xz', '--robot', '--list', '--', path], { allowFail: true });
  if (listing.code !== 0) throw new ImageSourceError(path, `xz cannot read it: ${listing.stderr.trim()}`);
  return { path, format: 'xz', size: parseXzRobotList(listing.stdout), open: () => xzStream(path) };
}
