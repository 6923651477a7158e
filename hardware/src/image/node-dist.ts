// Fetches the pinned npm registry tarballs an image carries (Node's release binary) with npm's own
// client, and refuses any whose bytes do not match the integrity pinned in the recipe: the cache key is
// the recipe, so the bytes must be the recipe's.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../host-command';
import type { PinnedTarball } from './image-recipe';

export class TarballIntegrityError extends Error {
  constructor(readonly spec: string, readonly expected: string, readonly actual: string) {
    super(`${spec}: the registry's tarball has integrity ${actual}, the recipe pins ${expected}; not using it`);
    this.name = 'TarballIntegrityError';
  }
}

/** npm's integrity form (sha512-<base64>) of some bytes. */
export function integrityOf(bytes: Buffer): string {
  return `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
}

const fileName = (t: PinnedTarball) => `${t.spec.replace(/[@/]/g, '_')}.tgz`;

/**
 * The tarball's path in `dir`, fetched with `npm pack` when not there yet. A file already in `dir` is checked
 * again, so a truncated or swapped download is fetched afresh rather than baked into an image.
 */
export async function fetchPinnedTarball(tarball: PinnedTarball, dir: string): Promise<string> {
  const path = join(dir, fileName(tarball));
  if (existsSync(path) && integrityOf(await readFile(path)) === tarball.integrity) return path;
  await mkdir(dir, { recursive: true });
  const staging = join(dir, `.pack-${process.pid}-${Date.now()}`);
  await mkdir(staging);
  try {
    await run(['npm', 'pack', '--silent', '--pack-destination', staging, tarball.spec], { timeoutMs: 300_000 });
    const [packed] = (await readdir(staging)).filter((f) => f.endsWith('.tgz'));
    if (packed === undefined) throw new Error(`npm pack ${tarball.spec} left no tarball`);
    const actual = integrityOf(await readFile(join(staging, packed)));
    if (actual !== tarball.integrity) throw new TarballIntegrityError(tarball.spec, tarball.integrity, actual);
    await rename(join(staging, packed), path);
    return path;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
