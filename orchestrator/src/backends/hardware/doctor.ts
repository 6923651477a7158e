import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { guardDevice, SshShell, sysfsGpioNumber, SYSFS_GPIO_ROOT } from '@synrace/hardware';
import type { Inventory, InventoryBoard } from '@synrace/netem-profiles';
import { MIN_NODE_MAJOR, nodeMajor } from '../../provision/provision';
import { renderTable } from '../../table';

export interface DoctorFinding { board: string; resource: 'serial' | 'relay' | 'ssh' | 'sd-card'; status: 'ok' | 'warn' | 'fail'; detail: string }

export interface DoctorOptions { gpioRoot?: string; sshTimeoutMs?: number }


export function expandHome(path: string): string {
  return path.startsWith('~/') ? `${homedir()}${path.slice(1)}` : path;
}

function checkSerial(b: InventoryBoard): DoctorFinding[] {
  const path = b.serial.path;
  const found: DoctorFinding[] = [];
  if (!existsSync(path)) found.push({ board: b.name, resource: 'serial', status: 'fail', detail: `${path} does not exist (adapter unplugged, or another path)` });
  else if (!statSync(path).isCharacterDevice()) found.push({ board: b.name, resource: 'serial', status: 'fail', detail: `${path} is not a character device` });
  else found.push({ board: b.name, resource: 'serial', status: 'ok', detail: `${path} present` });
  if (!path.startsWith('/dev/serial/by-id/')) found.push({ board: b.name, resource: 'serial', status: 'warn', detail: `${path}: ttyUSB/ttyACM numbers follow plug order; use the adapter's /dev/serial/by-id path` });
  return found;
}

async function checkRelay(b: InventoryBoard, gpioRoot: string): Promise<DoctorFinding> {
  try {
    const line = await sysfsGpioNumber(b.relay.bcmPin, gpioRoot);
    return { board: b.name, resource: 'relay', status: 'ok', detail: `BCM ${b.relay.bcmPin} is sysfs gpio${line} (${b.relay.activeLow ? 'active low' : 'active high'})` };
  } catch (err) {
    return { board: b.name, resource: 'relay', status: 'fail', detail: (err as Error).message };
  }
}

async function checkSsh(b: InventoryBoard, timeoutMs: number): Promise<DoctorFinding> {
  const fail = (detail: string): DoctorFinding => ({ board: b.name, resource: 'ssh', status: 'fail', detail });
  let shell: SshShell;
  try {
    shell = await SshShell.connect({ ...b.ssh, privateKeyPath: expandHome(b.ssh.key) }, { timeoutMs });
  } catch (err) {
    return fail((err as Error).message);
  }
  try {
    const { stdout, code } = await shell.exec('node --version', { timeoutMs });
    const major = nodeMajor(stdout);
    if (code !== 0 || major === 0) return fail(`reachable with the pinned key, but no node on the board (the agent needs Node ${MIN_NODE_MAJOR}+)`);
    if (major < MIN_NODE_MAJOR) return fail(`reachable, but the board has Node ${stdout.trim()}; the agent needs ${MIN_NODE_MAJOR}+`);
    return { board: b.name, resource: 'ssh', status: 'ok', detail: `${b.ssh.user}@${b.ssh.host}:${b.ssh.port}, host key as pinned, Node ${stdout.trim()}` };
  } finally {
    shell.close();
  }
}

async function checkSdCard(b: InventoryBoard): Promise<DoctorFinding[]> {
  if (!b.sdCard) return [];
  try {
    const verdict = await guardDevice(b.sdCard.device, b.sdCard.serial);
    const overridden = verdict.reasons.length ? `; allowed by its serial despite: ${verdict.reasons.join('; ')}` : '';
    return [{ board: b.name, resource: 'sd-card', status: verdict.reasons.length ? 'warn' : 'ok', detail: `${b.sdCard.device} may be flashed${overridden}` }];
  } catch (err) {
    return [{ board: b.name, resource: 'sd-card', status: 'fail', detail: (err as Error).message }];
  }
}

/** Checks every resource of every inventory board, all boards at once; nothing is written or switched. */
export async function doctor(inventory: Inventory, options: DoctorOptions = {}): Promise<DoctorFinding[]> {
  const perBoard = await Promise.all(
    inventory.boards.map(async (b) => [
      ...checkSerial(b),
      await checkRelay(b, options.gpioRoot ?? SYSFS_GPIO_ROOT),
      await checkSsh(b, options.sshTimeoutMs ?? 5000),
      ...(await checkSdCard(b)),
    ]),
  );
  return perBoard.flat();
}

export function renderFindings(findings: DoctorFinding[]): string {
  const failed = findings.filter((f) => f.status === 'fail').length;
  const warned = findings.filter((f) => f.status === 'warn').length;
  const table = renderTable(['board', 'resource', 'status', 'detail'], findings.map((f) => [f.board, f.resource, f.status.toUpperCase(), f.detail]));
  return `${table}\n\n${failed === 0 ? 'all resources present' : `${failed} resource check(s) failed`}${warned ? `, ${warned} warning(s)` : ''}`;
}
