// A per-board OpenSSH server for virtual boards: each board gets its own host
// key, config and listener, so it is reached with ssh2 exactly like a Pi.
import { existsSync, mkdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { run } from '../host-command';


export const SSHD_PATH = '/usr/sbin/sshd';
/** sshd's privilege separation directory; it refuses to start without it. */
export const SSHD_RUN_DIR = '/run/sshd';

export interface KeyPair {
  privateKeyPath: string;
  publicKeyPath: string;
  /** The OpenSSH one-line public key, for authorized_keys or a pinned SshEndpoint.hostKey. */
  publicKey: string;
}

/** Creates an ed25519 key pair without passphrase; refuses to replace an existing key (it may be pinned). */
export async function generateKeyPair(privateKeyPath: string, comment: string): Promise<KeyPair> {
  if (existsSync(privateKeyPath)) {
    throw new Error(`ssh-keygen: ${privateKeyPath} already exists; not replacing a key that may be pinned`);
  }
  try {
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', privateKeyPath]);
  } catch (err) {
    throw new Error(`ssh-keygen could not create ${privateKeyPath}: ${(err as { stderr?: string }).stderr || (err as Error).message}`);
  }
  const publicKeyPath = `${privateKeyPath}.pub`;
  return { privateKeyPath, publicKeyPath, publicKey: (await readFile(publicKeyPath, 'utf8')).trim() };
}

export interface SshdConfigOptions {
  /** Where sshd_config is written. */
  dir: string;
  listenAddress: string;
  port: number;
  hostKeyPath: string;
  authorizedKeysPath: string;
  pidFile: string;
}

/** Writes <dir>/sshd_config for a key-only, SFTP-capable sshd and returns its path. */
export async function writeSshdConfig(options: SshdConfigOptions): Promise<string> {
  const configPath = resolve(join(options.dir, 'sshd_config'));
  const lines = [
    `ListenAddress ${options.listenAddress}`,
    `Port ${options.port}`,
    `HostKey ${resolve(options.hostKeyPath)}`,
    `PidFile ${resolve(options.pidFile)}`,
    `AuthorizedKeysFile ${resolve(options.authorizedKeysPath)}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    // PAM would pull in the host's login stack (and systemd-logind) for a board that has none.
    'UsePAM no',
    // Keys and config live in run directories whose owners/modes sshd would reject.
    'StrictModes no',
    // Boards have no resolver worth waiting for; a lookup would delay every login.
    'UseDNS no',
    'PrintMotd no',
    'X11Forwarding no',
    // In-process SFTP: works without an sftp-server binary inside the board.
    'Subsystem sftp internal-sftp',
  ];
  await writeFile(configPath, lines.join('\n') + '\n');
  return configPath;
}

/** Creates /run/sshd (root-owned, 0755) if missing. Needs root, like sshd itself. */
export function ensureSshdRunDir(): void {
  mkdirSync(SSHD_RUN_DIR, { recursive: true, mode: 0o755 });
}

/**
 * The argv that runs sshd in the foreground (-D): the spawned process IS the
 * listener (nsenter execs it), so the caller can track it by its pid, wait for
 * its exit and stop it with SIGTERM. sshd also writes the config's PidFile, for
 * a later, separate process that has to stop it. Connections already open are
 * served by per-connection children that sshd puts in their own sessions:
 * stopping the listener does not end them; kill the board's processes (e.g.
 * everything in its network namespace) for a power-off.
 *
 * Logs go to logFile (-E) when given, otherwise to stderr (-e).
 */
export function sshdCommand(configPath: string, logFile?: string): string[] {
  const log = logFile === undefined ? ['-e'] : ['-E', resolve(logFile)];
  // sshd re-executes itself for every connection and insists on absolute paths.
  return [SSHD_PATH, '-D', ...log, '-f', resolve(configPath)];
}
