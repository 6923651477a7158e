// Where built board images live, named by their recipe's hash, so a machine builds each recipe once and
// every clone (and CI run) on it reuses the file. Outside any clone: /var/cache/synrace/images, or
// $SYNRACE_IMAGE_CACHE.
import { existsSync, readFileSync } from 'node:fs';
import { open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { BoardArch } from './image-recipe';

export const DEFAULT_IMAGE_CACHE = '/var/cache/synrace/images';

export function imageCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SYNRACE_IMAGE_CACHE || DEFAULT_IMAGE_CACHE;
}

/** What the builder records beside each image. */
export interface ImageManifest {
  arch: BoardArch;
  hash: string;
  suite: string;
  kernelVersion: string;
  nodeSpec: string;
  diskId: string;
  sizeBytes: number;
  bootOffsetBytes: number;
  rootOffsetBytes: number;
  /** The login user before first-boot customisation renames it. */
  firstUser: string;
  builtAt: string;
  buildSeconds: number;
}

export interface CachedImagePaths {
  image: string;
  manifest: string;
  lock: string;
}

export function cachedImagePaths(cacheDir: string, arch: BoardArch, hash: string): CachedImagePaths {
  const base = `synrace-board-${arch}-${hash.slice(0, 16)}`;
  return { image: join(cacheDir, `${base}.img`), manifest: join(cacheDir, `${base}.json`), lock: join(cacheDir, `.${base}.lock`) };
}

/** The cached image's manifest when image and manifest are both there and agree on the hash. */
export function readCachedImage(paths: CachedImagePaths, hash: string): ImageManifest | undefined {
  if (!existsSync(paths.image) || !existsSync(paths.manifest)) return undefined;
  try {
    const manifest = JSON.parse(readFileSync(paths.manifest, 'utf8')) as ImageManifest;
    return manifest.hash === hash ? manifest : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid runs (a build lock's holder, a build directory's builder). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the build lock for one image (a file holding the builder's pid). A lock whose holder died is taken
 * over; a live holder is waited for, calling `onWait` once, since it is building the very same image.
 */
export async function takeBuildLock(lock: string, onWait: (holder: number) => void, signal?: AbortSignal): Promise<() => Promise<void>> {
  let told = false;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const handle = await open(lock, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const text = (await readFile(lock, 'utf8').catch(() => '')).trim();
    if (text === '') {
      // Its holder has created it and not yet written its pid.
      await delay(200, undefined, { signal });
      continue;
    }
    const holder = Number(text);
    if (!Number.isInteger(holder) || holder <= 0 || !processAlive(holder)) {
      await rm(lock, { force: true });
      continue;
    }
    if (!told) onWait(holder);
    told = true;
    await delay(1000, undefined, { signal });
  }
}

/**
 * Removes all but the `keep` newest images of `arch` (each recipe change leaves a 1.6 GB file behind).
 * More than one is kept: two clones on one machine (main and a branch) may want different recipes.
 */
export async function pruneImageCache(cacheDir: string, arch: BoardArch, keep = 2): Promise<string[]> {
  const prefix = `synrace-board-${arch}-`;
  const images = (await readdir(cacheDir).catch(() => [] as string[])).filter((f) => f.startsWith(prefix) && f.endsWith('.img'));
  const dated = await Promise.all(images.map(async (f) => ({ f, mtime: (await stat(join(cacheDir, f))).mtimeMs })));
  const old = dated.sort((a, b) => b.mtime - a.mtime).slice(keep).map((d) => d.f);
  for (const f of old) {
    if (existsSync(join(cacheDir, `.${f.replace(/\.img$/, '')}.lock`))) continue;
    await rm(join(cacheDir, f), { force: true });
    await rm(join(cacheDir, f.replace(/\.img$/, '.json')), { force: true });
  }
  return old;
}
