// Running an arm64 root's maintainer scripts on an x86 host: binfmt_misc hands aarch64 ELF files to
// qemu-user-static. The host may have binfmt_misc unmounted and the entry unregistered (this machine does),
// so the builder registers its own entry, named with the srvm prefix so that it never touches another
// user's `qemu-aarch64`, and removes it again when the build ends.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { run } from '../host-command';
import type { BoardArch } from './image-recipe';

const BINFMT_DIR = '/proc/sys/fs/binfmt_misc';
/** qemu-user-static's own registration line, with magic and mask for aarch64 ELF. */
const QEMU_BINFMT_CONF = '/usr/lib/binfmt.d/qemu-aarch64.conf';
const ENTRY = 'srvm-aarch64';

export class ForeignArchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForeignArchError';
  }
}

/** The host's machine name as Debian calls it. */
export async function hostArch(): Promise<string> {
  return (await run(['dpkg', '--print-architecture'])).stdout.trim();
}

/** What is missing to build for `arch` on this host, with the fix; empty when nothing is. */
export async function foreignArchProblems(arch: BoardArch): Promise<string[]> {
  if (arch === (await hostArch())) return [];
  const problems: string[] = [];
  if (!existsSync(QEMU_BINFMT_CONF) || !existsSync('/usr/libexec/qemu-binfmt/aarch64-binfmt-P')) {
    problems.push(`building an ${arch} image here needs qemu-user-static: apt-get install qemu-user-static`);
  }
  if (!existsSync('/usr/bin/arch-test')) problems.push('mmdebstrap needs arch-test for a foreign architecture: apt-get install arch-test');
  return problems;
}

/**
 * Makes aarch64 binaries run (mounting binfmt_misc if needed, registering our entry unless an enabled
 * qemu-aarch64 entry is there already) and returns the undo, which removes only what this call added.
 */
export async function enableForeignArch(arch: BoardArch): Promise<() => Promise<void>> {
  const problems = await foreignArchProblems(arch);
  if (problems.length > 0) throw new ForeignArchError(problems.join('; '));
  if (arch === (await hostArch())) return async () => undefined;
  if (!existsSync(`${BINFMT_DIR}/register`)) {
    await run(['mount', '-t', 'binfmt_misc', 'binfmt_misc', BINFMT_DIR]);
  }
  const enabled = async (name: string) => existsSync(`${BINFMT_DIR}/${name}`) && (await readFile(`${BINFMT_DIR}/${name}`, 'utf8')).startsWith('enabled');
  if ((await enabled('qemu-aarch64')) || (await enabled(ENTRY))) return async () => undefined;
  const line = (await readFile(QEMU_BINFMT_CONF, 'utf8')).trim().replace(/^:qemu-aarch64:/, `:${ENTRY}:`);
  await writeFile(`${BINFMT_DIR}/register`, line);
  // Writing -1 to an entry removes it. The binfmt_misc mount is left: other users may rely on it now.
  return async () => {
    if (existsSync(`${BINFMT_DIR}/${ENTRY}`)) await writeFile(`${BINFMT_DIR}/${ENTRY}`, '-1');
  };
}
