import { readFile, realpath } from 'node:fs/promises';
import { basename } from 'node:path';
import { run } from '../../host-command';

/** What the host says about a block device, as plain text, so the rules can be tested on any data. */
export interface DeviceInputs {
  /** Output of LSBLK_ARGV for the device. */
  lsblk: string;
  /** Contents of /sys/block/<name>/removable; undefined when absent. */
  sysfsRemovable: string | undefined;
  /** Contents of /sys/block/<name>/device/serial (MMC, NVMe); undefined when absent. */
  sysfsSerial: string | undefined;
  /** Contents of /proc/self/mountinfo. */
  mountinfo: string;
  /** Contents of /proc/swaps. */
  swaps: string;
}

export interface MountedFilesystem {
  device: string;
  mountPoint: string;
}

export interface DeviceFacts {
  device: string;
  /** The kernel's device number, "major:minor": what an open descriptor is checked against. */
  majMin: string;
  type: string;
  removable: boolean;
  serial: string | undefined;
  sizeBytes: number;
  transport: string | undefined;
  /** Filesystems of this host mounted from the device, its partitions or anything stacked on them. */
  mounts: MountedFilesystem[];
  /** Other uses the host makes of it: swap, LVM or RAID members. */
  inUse: string[];
}

export interface DeviceVerdict {
  allowed: boolean;
  facts: DeviceFacts;
  /** Why writing is refused, or, when the inventory's serial allowed it anyway, what it overrode. */
  reasons: string[];
}

export class DeviceRefusedError extends Error {
  constructor(readonly verdict: DeviceVerdict) {
    super(`refusing to write ${verdict.facts.device}: ${verdict.reasons.join('; ')}`);
    this.name = 'DeviceRefusedError';
  }
}

export const LSBLK_ARGV = ['lsblk', '--json', '--bytes', '--output', 'NAME,KNAME,MAJ:MIN,RM,SERIAL,MOUNTPOINTS,TYPE,SIZE,TRAN,FSTYPE'];

/** Filesystem signatures that say a device belongs to a volume of the host's. */
const MEMBER_OF: Record<string, string> = { LVM2_member: 'an LVM physical volume', linux_raid_member: 'a RAID member', swap: 'swap space' };

interface LsblkNode {
  name: string;
  kname: string;
  'maj:min': string;
  rm: boolean | string;
  serial: string | null;
  type: string;
  size: number | string;
  tran: string | null;
  fstype?: string | null;
  children?: LsblkNode[];
}

interface MountinfoEntry {
  majMin: string;
  mountPoint: string;
  source: string;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
const unescapeMountinfo = (field: string) => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));

/** Fields of /proc/self/mountinfo: "id parent maj:min root mountpoint options [optional...] - fstype source superoptions". */
export function parseMountinfo(text: string): MountinfoEntry[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const fields = line.split(' ');
      const separator = fields.indexOf('-', 6);
      return { majMin: fields[2], mountPoint: unescapeMountinfo(fields[4]), source: unescapeMountinfo(fields[separator + 2] ?? '') };
    });
}

function descendants(node: LsblkNode): LsblkNode[] {
  return [node, ...(node.children ?? []).flatMap(descendants)];
}

/** Combines the inputs into facts about `device`; throws when lsblk did not describe exactly one device. */
export function describeDevice(device: string, inputs: DeviceInputs): DeviceFacts {
  const nodes = (JSON.parse(inputs.lsblk) as { blockdevices?: LsblkNode[] }).blockdevices ?? [];
  if (nodes.length !== 1) throw new Error(`lsblk described ${nodes.length} devices for ${device}`);
  const [disk] = nodes;
  const family = descendants(disk);
  const majMins = new Set(family.map((n) => n['maj:min']));
  // Match by name too: btrfs and some others report an anonymous 0:N device number in mountinfo.
  const paths = new Set(family.flatMap((n) => [`/dev/${n.name}`, `/dev/${n.kname}`, `/dev/mapper/${n.name}`]));
  const mounts = parseMountinfo(inputs.mountinfo)
    .filter((m) => majMins.has(m.majMin) || paths.has(m.source))
    .map((m) => ({ device: m.source, mountPoint: m.mountPoint }));
  const removable = (inputs.sysfsRemovable ?? String(disk.rm)).trim();
  const swapping = new Set(inputs.swaps.split('\n').slice(1).map((l) => l.split(/\s+/)[0]).filter(Boolean));
  const inUse = [
    ...family.filter((n) => [`/dev/${n.name}`, `/dev/${n.kname}`].some((p) => swapping.has(p))).map((n) => `/dev/${n.name} is in use as swap`),
    ...family.filter((n) => n.fstype && MEMBER_OF[n.fstype] && !(n.fstype === 'swap' && swapping.has(`/dev/${n.name}`))).map((n) => `/dev/${n.name} is ${MEMBER_OF[n.fstype!]}`),
  ];
  return {
    device,
    majMin: disk['maj:min'],
    type: disk.type,
    removable: removable === '1' || removable === 'true',
    serial: inputs.sysfsSerial?.trim() || disk.serial?.trim() || undefined,
    sizeBytes: Number(disk.size),
    transport: disk.tran ?? undefined,
    mounts,
    inUse,
  };
}

/**
 * The rules: only a whole disk, and never one the host uses (mounted, swap, LVM or RAID member), whatever
 * the inventory says; when the inventory names a serial, the device must carry it, and then it may be
 * written even if it is fixed (the inventory has vouched for it); without one, it must be removable.
 */
export function judgeDevice(facts: DeviceFacts, allowSerial?: string): DeviceVerdict {
  const refuse = (...reasons: string[]) => ({ allowed: false, facts, reasons });
  if (facts.type !== 'disk' && facts.type !== 'loop') return refuse(`it is a ${facts.type}, not a whole disk`);
  const inUse = [...facts.inUse];
  if (facts.mounts.length > 0) inUse.unshift(`holds mounted filesystems of this host: ${facts.mounts.map((m) => `${m.device} on ${m.mountPoint}`).join(', ')}`);
  if (inUse.length > 0) return refuse(...inUse, 'the host is using it: no inventory serial overrides that');
  if (allowSerial !== undefined) {
    if (facts.serial === undefined) return refuse(`the inventory expects serial ${allowSerial} but the device reports none`);
    if (facts.serial !== allowSerial.trim()) return refuse(`its serial is ${facts.serial}, the inventory expects ${allowSerial}`);
    return { allowed: true, facts, reasons: facts.removable ? [] : [`allowed by inventory serial ${allowSerial} although not a removable device (${facts.transport ?? 'unknown'} transport)`] };
  }
  if (facts.removable) return { allowed: true, facts, reasons: [] };
  const hint = facts.serial === undefined ? 'it has no serial to name in the inventory' : `name its serial ${facts.serial} in the inventory to allow it`;
  return refuse(`not a removable device (${facts.transport ?? 'unknown'} transport)`, hint);
}

const readOptional = (path: string) => readFile(path, 'utf8').catch(() => undefined);

/** Reads the device's inputs from this host (sysfs, udev via lsblk, mountinfo). Symlinks such as /dev/disk/by-id are resolved. */
export async function readDeviceInputs(device: string): Promise<{ device: string; inputs: DeviceInputs }> {
  const resolved = await realpath(device).catch(() => {
    throw new Error(`${device} does not exist`);
  });
  const lsblk = await run([...LSBLK_ARGV, resolved], { allowFail: true });
  if (lsblk.code !== 0) throw new Error(`${device} is not a block device (${lsblk.stderr.trim()})`);
  const name = basename(resolved);
  return {
    device: resolved,
    inputs: {
      lsblk: lsblk.stdout,
      sysfsRemovable: await readOptional(`/sys/block/${name}/removable`),
      sysfsSerial: await readOptional(`/sys/block/${name}/device/serial`),
      mountinfo: await readFile('/proc/self/mountinfo', 'utf8'),
      swaps: (await readOptional('/proc/swaps')) ?? '',
    },
  };
}

/** Resolves when `device` may be written; otherwise throws DeviceRefusedError naming the rule, the device and the mounts. */
export async function guardDevice(device: string, allowSerial?: string): Promise<DeviceVerdict> {
  const { device: resolved, inputs } = await readDeviceInputs(device);
  const verdict = judgeDevice(describeDevice(resolved, inputs), allowSerial);
  if (!verdict.allowed) throw new DeviceRefusedError(verdict);
  return verdict;
}
