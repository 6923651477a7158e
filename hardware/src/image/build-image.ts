// Builds (or finds in the cache) a board image for `synrace image build`: Debian bookworm from Debian's
// packages with mmdebstrap, shaped like Raspberry Pi OS so `flash` and its first-boot customisation apply
// unchanged (see pi-os-helpers.ts), laid out by disk-layout.ts. One build per recipe hash per machine.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { run } from '../host-command';
import { mountPointsUnder } from '../virtual/uts-namespace';
import { layOutDisk } from './disk-layout';
import { enableForeignArch, foreignArchProblems } from './foreign-arch';
import { cachedImagePaths, imageCacheDir, processAlive, pruneImageCache, readCachedImage, takeBuildLock, type ImageManifest } from './image-cache';
import { createHash } from 'node:crypto';
import { assertBoardArch, diskIdentifier, imageRecipe, recipeHash, type BoardArch, type ImageRecipe } from './image-recipe';
import { fetchPinnedTarball } from './node-dist';
import type { RootFile } from './pi-os-helpers';

export type ImageBuildPhase = 'cache' | 'downloads' | 'packages' | 'filesystem' | 'done';

export interface ImageBuildProgress {
  phase: ImageBuildPhase;
  message: string;
  elapsedMs: number;
}

export interface BuildImageOptions {
  arch: string;
  /** Defaults to imageCacheDir(): $SYNRACE_IMAGE_CACHE or /var/cache/synrace/images. */
  cacheDir?: string;
  /** Build even when the cache has the image (the Debian archive may have moved on). */
  rebuild?: boolean;
  onProgress?: (progress: ImageBuildProgress) => void;
  signal?: AbortSignal;
}

export interface BoardImage {
  path: string;
  manifest: ImageManifest;
  /** True when the cache already held it. */
  cached: boolean;
  /** This call's time, build or look-up. */
  seconds: number;
}

export class ImageBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageBuildError';
  }
}

const HOST_TOOLS: Array<[string, string]> = [
  ['mmdebstrap', 'mmdebstrap'],
  ['mkfs.vfat', 'dosfstools'],
  ['mcopy', 'mtools'],
  ['mkfs.ext4', 'e2fsprogs'],
  ['sfdisk', 'fdisk'],
  ['npm', 'npm (Node.js)'],
];

async function onPath(tool: string): Promise<boolean> {
  return (await run(['sh', '-c', `command -v ${tool}`], { allowFail: true })).code === 0;
}

/** Everything missing on this host to build `arch`, each with its fix; checked before anything is made. */
export async function imageBuildProblems(arch: string): Promise<string[]> {
  assertBoardArch(arch);
  const problems: string[] = [];
  for (const [tool, pkg] of HOST_TOOLS) if (!(await onPath(tool))) problems.push(`${tool} is missing: apt-get install ${pkg}`);
  if (process.getuid?.() !== 0) problems.push('building an image needs root (mmdebstrap --mode=root chroots into the new root)');
  return [...problems, ...(await foreignArchProblems(arch))];
}

/** The image for `arch` from the cache, or built into it. */
export async function buildBoardImage(options: BuildImageOptions): Promise<BoardImage> {
  const started = Date.now();
  const progress = (phase: ImageBuildPhase, message: string) => options.onProgress?.({ phase, message, elapsedMs: Date.now() - started });
  assertBoardArch(options.arch);
  const arch: BoardArch = options.arch;
  const recipe = imageRecipe(arch);
  const hash = imageHash(recipe);
  const cacheDir = options.cacheDir ?? imageCacheDir();
  const paths = cachedImagePaths(cacheDir, arch, hash);
  const seconds = () => (Date.now() - started) / 1000;

  const cached = options.rebuild ? undefined : readCachedImage(paths, hash);
  if (cached) {
    progress('done', `cached ${paths.image}`);
    return { path: paths.image, manifest: cached, cached: true, seconds: seconds() };
  }
  const problems = await imageBuildProblems(arch);
  if (problems.length > 0) throw new ImageBuildError(`cannot build the ${arch} board image here:\n  ${problems.join('\n  ')}`);

  await mkdir(cacheDir, { recursive: true });
  const unlock = await takeBuildLock(paths.lock, (holder) => progress('cache', `waiting for process ${holder}, which is building the same image`), options.signal);
  try {
    // The other builder may have finished it while we waited.
    const built = options.rebuild ? undefined : readCachedImage(paths, hash);
    if (built) {
      progress('done', `cached ${paths.image}`);
      return { path: paths.image, manifest: built, cached: true, seconds: seconds() };
    }
    for (const name of await removeAbandonedBuilds(cacheDir)) progress('cache', `removed ${name}, left by a build that was killed`);
    const manifest = await buildInto(recipe, hash, cacheDir, paths.image, progress, options.signal);
    manifest.buildSeconds = seconds();
    await writeFile(paths.manifest, JSON.stringify(manifest, null, 2) + '\n');
    for (const removed of await pruneImageCache(cacheDir, arch)) progress('cache', `removed ${removed}, an image of an older recipe`);
    progress('done', `built ${paths.image} (${(manifest.sizeBytes / 2 ** 20).toFixed(0)} MiB) in ${manifest.buildSeconds.toFixed(0)} s`);
    return { path: paths.image, manifest, cached: false, seconds: seconds() };
  } finally {
    await unlock();
  }
}

async function buildInto(
  recipe: ImageRecipe,
  hash: string,
  cacheDir: string,
  imagePath: string,
  progress: (phase: ImageBuildPhase, message: string) => void,
  signal?: AbortSignal,
): Promise<ImageManifest> {
  const work = join(cacheDir, `.srvm-build-${recipe.arch}-${hash.slice(0, 12)}-${process.pid}`);
  const root = join(work, 'root');
  const stage = join(work, 'stage');
  let disableForeignArch: (() => Promise<void>) | undefined;
  try {
    await removeBuildDir(work);
    await mkdir(stage, { recursive: true });
    progress('downloads', `Node ${recipe.node.spec} from the npm registry`);
    const downloads = join(cacheDir, 'downloads');
    const nodeTarball = await fetchPinnedTarball(recipe.node, downloads);
    await copyFile(nodeTarball, join(stage, 'node.tgz'));
    await stageFiles(join(stage, 'files'), recipe.files);
    await stageFiles(join(stage, 'initramfs'), recipe.initramfsFiles);
    const diskId = diskIdentifier(hash);
    await writeFile(join(stage, 'customise.sh'), customiseScript(recipe, diskId));

    disableForeignArch = await enableForeignArch(recipe.arch);
    progress('packages', `mmdebstrap ${recipe.suite} ${recipe.arch}: ${recipe.packages.length} packages and ${recipe.kernelPackage}`);
    await mmdebstrap(recipe, root, stage, (line) => progress('packages', line), signal);

    const boot = join(root, 'boot');
    const kernel = (await readdir(boot)).find((f) => f.startsWith('vmlinuz-'));
    const kernelVersion = kernel?.slice('vmlinuz-'.length);
    if (kernel === undefined || !existsSync(join(boot, `initrd.img-${kernelVersion}`))) {
      throw new ImageBuildError(`the ${recipe.arch} root has no kernel and initrd in /boot after mmdebstrap`);
    }
    const usedMiB = Number((await run(['du', '-s', '--block-size=1M', '--one-file-system', root], { timeoutMs: 120_000 })).stdout.split(/\s/)[0]);
    const rootMiB = Math.ceil(usedMiB * 1.15) + recipe.rootFreeMiB;
    progress('filesystem', `FAT boot partition and ${rootMiB} MiB ext4 root (${usedMiB} MiB used)`);
    const partial = `${imagePath}.partial-${process.pid}`;
    const layout = await layOutDisk({
      image: partial,
      diskId,
      bootMiB: recipe.bootPartitionMiB,
      rootDir: root,
      rootMiB,
      rootLabel: 'rootfs',
      bootFiles: {
        vmlinuz: { file: join(boot, kernel) },
        'initrd.img': { file: join(boot, `initrd.img-${kernelVersion}`) },
        'cmdline.txt': { text: `${recipe.cmdline} root=PARTUUID=${diskId}-02\n` },
        'config.txt': { text: configTxt() },
      },
    });
    await rename(partial, imagePath);
    return {
      arch: recipe.arch,
      hash,
      suite: recipe.suite,
      kernelVersion: kernelVersion ?? '',
      nodeSpec: recipe.node.spec,
      diskId,
      sizeBytes: layout.sizeBytes,
      bootOffsetBytes: layout.bootOffsetBytes,
      rootOffsetBytes: layout.rootOffsetBytes,
      firstUser: recipe.firstUser,
      builtAt: new Date().toISOString(),
      buildSeconds: 0,
    };
  } finally {
    await rm(`${imagePath}.partial-${process.pid}`, { force: true });
    await removeBuildDir(work);
    await disableForeignArch?.();
  }
}

/** A build's work directory and its partial image are named by its builder's pid (see buildInto). */
const BUILD_LEFTOVER = /^\.srvm-build-.+-(\d+)$|^synrace-board-.+\.img\.partial-(\d+)$/;

/**
 * What builds killed outright (SIGKILL, a lost session) left in the cache: a build cleans up after itself
 * on every other end, and a root of 200 MB to 1.2 GB would otherwise stay for good. A live builder's are kept.
 */
export async function removeAbandonedBuilds(cacheDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(cacheDir).catch(() => [] as string[])) {
    const leftover = BUILD_LEFTOVER.exec(name);
    if (leftover === null || processAlive(Number(leftover[1] ?? leftover[2]))) continue;
    await removeBuildDir(join(cacheDir, name));
    removed.push(name);
  }
  return removed;
}

/** The Pi firmware's config file, read by the QEMU firmware for the kernel's and initramfs' names. */
function configTxt(): string {
  return ['# synrace QEMU board: the firmware (qemu-firmware) reads these like a Pi\'s start.elf does.', '[all]', 'kernel=vmlinuz', 'initramfs initrd.img followkernel', 'enable_uart=1', ''].join('\n');
}

async function stageFiles(dir: string, files: RootFile[]): Promise<void> {
  for (const f of files) {
    const path = join(dir, f.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, f.content);
    await chmod(path, f.mode);
  }
}

/**
 * Never `rm -rf` a root with the host's /proc, /sys or /dev still bound into it (an mmdebstrap killed mid-
 * hook leaves them): unmount everything under it first, deepest first, and stay on its file system.
 */
async function removeBuildDir(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const mp of mountPointsUnder(dir).sort((a, b) => b.length - a.length)) await run(['umount', '-l', mp], { allowFail: true });
  if (mountPointsUnder(dir).length > 0) throw new ImageBuildError(`${dir} still has mounts under it; not removing it`);
  await run(['rm', '-rf', '--one-file-system', dir], { timeoutMs: 300_000 });
}

const UPDATE_INITRAMFS = '/usr/sbin/update-initramfs';
const INITRAMFS_DIVERTED = '/usr/sbin/update-initramfs.synrace-deferred';

const shellQuote = (value: string) => `'${value.replace(/'/g, `'"'"'`)}'`;

/** What mmdebstrap's customize hook runs in the finished root ($1) with the staging directory ($2). */
function customiseScript(recipe: ImageRecipe, diskId: string): string {
  const user = recipe.firstUser;
  return `set -eu
root="$1"; stage="$2"
cp -a "$stage/files/." "$root/"

# The first user, as Pi OS images ship one for userconf to rename: locked password, passwordless sudo.
chroot "$root" useradd --create-home --uid 1000 --user-group --shell /bin/bash --groups sudo,adm ${user}
printf '%s ALL=(ALL) NOPASSWD: ALL\\n' ${user} > "$root/etc/sudoers.d/010_pi-nopasswd"
chmod 0440 "$root/etc/sudoers.d/010_pi-nopasswd"

echo raspberrypi > "$root/etc/hostname"
printf '127.0.0.1\\tlocalhost\\n::1\\t\\tlocalhost ip6-localhost ip6-loopback\\nff02::1\\t\\tip6-allnodes\\nff02::2\\t\\tip6-allrouters\\n\\n127.0.1.1\\traspberrypi\\n' > "$root/etc/hosts"
mkdir -p "$root/boot/firmware"
printf 'proc /proc proc defaults 0 0\\nPARTUUID=${diskId}-01 /boot/firmware vfat defaults 0 2\\nPARTUUID=${diskId}-02 / ext4 defaults,noatime 0 1\\n' > "$root/etc/fstab"

# NetworkManager brings up only the connections written for it (flash's management keyfile), not a DHCP
# profile on every port of a router.
mkdir -p "$root/etc/NetworkManager/conf.d"
printf '[main]\\nno-auto-default=*\\n' > "$root/etc/NetworkManager/conf.d/synrace-board.conf"

# SSH is off until firstrun.sh's enable_ssh, as on Pi OS; each board makes its own host keys at first boot.
chroot "$root" systemctl disable ssh.service
rm -f "$root"/etc/ssh/ssh_host_*
chroot "$root" systemctl enable regenerate_ssh_host_keys.service synrace-host-keys-to-console.service
# No network to fetch from in a lab; these only cost boot time and CPU.
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer e2scrub_reap.service
# The package's own nginx would hold port 80 with Debian's welcome page; a lab board serves what the lab provisions.
chroot "$root" systemctl disable nginx.service

# Node's release binary under /usr/local.
tar -xzf "$stage/node.tgz" -C "$root/usr/local" --strip-components=1 --no-same-owner package/bin/node
chmod 0755 "$root/usr/local/bin/node"

# Drivers for hardware no board has; the initrd was built before, with what it needs.
for kver in $(ls "$root/usr/lib/modules"); do
  for dir in ${recipe.prunedModules.map(shellQuote).join(' ')}; do rm -rf "$root/usr/lib/modules/$kver/$dir"; done
  chroot "$root" depmod "$kver"
done

# The one initrd (update-initramfs was held back while packages went in; see the essential hook).
rm "$root${UPDATE_INITRAMFS}"
chroot "$root" dpkg-divert --quiet --local --rename --remove ${UPDATE_INITRAMFS}
chroot "$root" update-initramfs -c -k all

rm -rf "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* "$root"/var/log/apt/* "$root"/var/log/dpkg.log
: > "$root/etc/machine-id"
`;
}

/** mmdebstrap's options for the recipe; the staging directory holds the hook inputs. */
function mmdebstrapArgv(recipe: ImageRecipe, stage: string): string[] {
  return [
    'mmdebstrap',
    '--variant=minbase',
    `--arch=${recipe.arch}`,
    '--mode=root',
    // Documentation, manuals and translations are most of a minbase root's files and no board reads them.
    '--dpkgopt=path-exclude=/usr/share/man/*',
    '--dpkgopt=path-exclude=/usr/share/doc/*',
    '--dpkgopt=path-include=/usr/share/doc/*/copyright',
    '--dpkgopt=path-exclude=/usr/share/locale/*',
    '--dpkgopt=path-exclude=/usr/share/info/*',
    '--aptopt=Acquire::Languages "none"',
    '--aptopt=Acquire::Retries "3"',
    // Before any package: the initramfs settings and hooks.
    `--setup-hook=cp -a ${shellQuote(join(stage, 'initramfs'))}/. "$1/"`,
    // The kernel's postinst and the initramfs-tools trigger each build the initrd, and under qemu-user
    // that costs about a minute each: update-initramfs is a no-op until the root is complete, then the
    // customise script builds the one initrd.
    `--essential-hook=chroot "$1" dpkg-divert --quiet --local --rename --divert ${INITRAMFS_DIVERTED} --add ${UPDATE_INITRAMFS} && ln -s /bin/true "$1${UPDATE_INITRAMFS}"`,
    `--customize-hook=sh ${shellQuote(join(stage, 'customise.sh'))} "$1" ${shellQuote(stage)}`,
    `--include=${[...recipe.packages, recipe.kernelPackage].join(',')}`,
  ];
}

/**
 * The cache key: the recipe and the builder's own steps (its mmdebstrap options and customise script), so
 * a change to either makes a new image rather than reusing one built the old way.
 */
export function imageHash(recipe: ImageRecipe): string {
  return createHash('sha256')
    .update(recipeHash(recipe))
    .update(JSON.stringify(mmdebstrapArgv(recipe, '/STAGE')))
    .update(customiseScript(recipe, 'DISKID'))
    .digest('hex');
}

async function mmdebstrap(
  recipe: ImageRecipe,
  root: string,
  stage: string,
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  const argv = [...mmdebstrapArgv(recipe, stage), recipe.suite, root];
  const mirror = process.env.SYNRACE_DEBIAN_MIRROR;
  if (mirror) argv.push(mirror);
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  const tail: string[] = [];
  const onAbort = () => child.kill('SIGINT');
  signal?.addEventListener('abort', onAbort);
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 30) tail.shift();
      if (/^I: /.test(line)) onLine(line.slice(3));
    });
  }
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  signal?.removeEventListener('abort', onAbort);
  signal?.throwIfAborted();
  if (code !== 0) throw new ImageBuildError(`mmdebstrap failed (exit ${code}) building the ${recipe.arch} root; its last lines:\n${tail.join('\n')}`);
}
