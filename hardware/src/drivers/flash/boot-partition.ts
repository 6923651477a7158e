import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../host-command';
import { FIRST_RUN_SCRIPT, firstRunScript, withFirstRunHook, type FirstBootSettings } from './first-boot';

export interface BootPartition {
  /** The image file or block device holding the partition table. */
  target: string;
  offsetBytes: number;
  sizeBytes: number;
}

export class BootPartitionError extends Error {
  constructor(readonly target: string, message: string) {
    super(`boot partition of ${target}: ${message}`);
    this.name = 'BootPartitionError';
  }
}

interface SfdiskTable {
  partitiontable: {
    label: 'dos' | 'gpt' | string;
    sectorsize?: number;
    partitions?: Array<{ node: string; start: number; size: number; type: string }>;
  };
}

// MBR type ids of FAT12/16/32 (0x0c is what Raspberry Pi OS uses), and the GPT types a FAT boot
// partition carries (Microsoft basic data, EFI system).
const FAT_MBR_TYPES = new Set(['1', '4', '6', 'b', 'c', 'e']);
const FAT_GPT_TYPES = new Set(['EBD0A0A2-B9E5-4433-87C0-68B6B72699C7', 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B']);

/** The first FAT partition in `sfdisk --json` output, which is where the Pi firmware looks. */
export function bootPartitionFromSfdisk(target: string, sfdiskJson: string): BootPartition {
  const table = (JSON.parse(sfdiskJson) as SfdiskTable).partitiontable;
  const isFat = table.label === 'gpt' ? (type: string) => FAT_GPT_TYPES.has(type.toUpperCase()) : (type: string) => FAT_MBR_TYPES.has(type.toLowerCase());
  const sector = table.sectorsize ?? 512;
  const p = (table.partitions ?? []).find((candidate) => isFat(candidate.type));
  if (p === undefined) throw new BootPartitionError(target, `no FAT partition in its ${table.label} partition table`);
  return { target, offsetBytes: p.start * sector, sizeBytes: p.size * sector };
}

export async function findBootPartition(target: string): Promise<BootPartition> {
  const result = await run(['sfdisk', '--json', target], { allowFail: true });
  if (result.code !== 0) throw new BootPartitionError(target, `no partition table (${result.stderr.trim()})`);
  return bootPartitionFromSfdisk(target, result.stdout);
}

// mtools reaches a filesystem inside an image or device by "file@@offset": no mount, no
// loop device, no vfat driver needed.
const mtoolsDrive = (part: BootPartition) => `${part.target}@@${part.offsetBytes}`;

/** The file's bytes as text, or undefined when the partition has no such file. */
export async function readBootFile(part: BootPartition, name: string): Promise<string | undefined> {
  const result = await run(['mtype', '-i', mtoolsDrive(part), `::/${name}`], { allowFail: true });
  if (result.code === 0) return result.stdout;
  if (/not found/i.test(result.stderr)) return undefined;
  throw new BootPartitionError(part.target, `cannot read ${name}: ${result.stderr.trim()}`);
}

/** Copies a (binary) file out of the partition to `destination`; false when the partition has no such file. */
export async function copyBootFileOut(part: BootPartition, name: string, destination: string): Promise<boolean> {
  const result = await run(['mcopy', '-o', '-n', '-i', mtoolsDrive(part), `::/${name}`, destination], { allowFail: true, timeoutMs: 120_000 });
  if (result.code === 0) return true;
  if (/not found/i.test(result.stderr)) return false;
  throw new BootPartitionError(part.target, `cannot copy ${name} out: ${result.stderr.trim()}`);
}

/** Replaces (or creates) a file, then reads it back: a FAT that silently drops writes must not pass. */
export async function writeBootFile(part: BootPartition, name: string, content: string): Promise<void> {
  // mcopy needs a file to copy from: Node's child stdin is a socket, which /dev/stdin cannot open.
  const dir = await mkdtemp(join(tmpdir(), 'synrace-boot-'));
  try {
    const staged = join(dir, 'content');
    await writeFile(staged, content);
    const result = await run(['mcopy', '-o', '-i', mtoolsDrive(part), staged, `::/${name}`], { allowFail: true });
    if (result.code !== 0) throw new BootPartitionError(part.target, `cannot write ${name}: ${result.stderr.trim()}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if ((await readBootFile(part, name)) !== content) throw new BootPartitionError(part.target, `${name} does not read back as written`);
}

/**
 * Writes the first-boot customisation (see first-boot.ts for the form and its sources) into the
 * boot partition of a written image or card. Returns the names of the files it changed.
 */
export async function customiseBootPartition(target: string, settings: FirstBootSettings): Promise<string[]> {
  const script = firstRunScript(settings);
  const part = await findBootPartition(target);
  const cmdline = await readBootFile(part, 'cmdline.txt');
  if (cmdline === undefined) throw new BootPartitionError(target, 'has no cmdline.txt: not a Raspberry Pi OS boot partition');
  await writeBootFile(part, FIRST_RUN_SCRIPT, script);
  await writeBootFile(part, 'cmdline.txt', withFirstRunHook(cmdline));
  return [FIRST_RUN_SCRIPT, 'cmdline.txt'];
}
