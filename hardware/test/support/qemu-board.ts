import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readConsoleLog, waitForConsole } from '../../src/drivers/console-client';
import { consoleText } from '../../src/drivers/console-log';
import { ConsoleServer } from '../../src/drivers/console-server';
import type { FirstBootSettings } from '../../src/drivers/flash/first-boot';
import { SshShell } from '../../src/drivers/ssh-shell';
import { run } from '../../src/host-command';
import { waitForConsoleHostKey } from '../../src/vm/console-host-key';
import type { BoardArch } from '../../src/image/image-recipe';
import type { QemuMachineResource, SshEndpoint } from '../../src/resources';
import { flashBoardDisk } from '../../src/vm/board-disk';
import { QemuMachine } from '../../src/vm/qemu-machine';
import { QmpPowerDriver } from '../../src/vm/qmp-power';
import { createTap, removeTap } from '../../src/vm/tap';
import type { Cleanup } from '../../src/testing/cleanup';

/** Every host object of these tests carries this prefix (other labs share the host). */
export const PREFIX = 'srvm';

export async function makeWorkDir(what: string, cleanup: Cleanup): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${PREFIX}-${what}-`));
  // SYNRACE_TEST_KEEP=1 keeps it (disk files, console and firmware logs) for a look after a failure.
  if (process.env.SYNRACE_TEST_KEEP !== '1') cleanup.add(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A bridge with the host at .1 of a /24 of 10.213.0.0/16 picked from the pid, so parallel runs differ. */
export async function makeBridge(cleanup: Cleanup): Promise<{ name: string; subnet: string }> {
  const tag = process.pid % 10000;
  const name = `${PREFIX}-br${tag}`;
  const subnet = `10.213.${(process.pid % 250) + 1}`;
  await run(['ip', 'link', 'add', name, 'type', 'bridge']);
  cleanup.add(`delete bridge ${name}`, () => run(['ip', 'link', 'del', name]));
  await run(['ip', 'addr', 'add', `${subnet}.1/24`, 'dev', name]);
  await run(['ip', 'link', 'set', name, 'up']);
  return { name, subnet };
}

export interface TestBoard {
  name: string;
  machine: QemuMachine;
  power: QmpPowerDriver;
  consoleServer: ConsoleServer;
  logFile: string;
  address: string;
  /** Without the host key until it is captured from the console. */
  login: Omit<SshEndpoint, 'hostKey'>;
}

export interface TestBoardOptions {
  dir: string;
  name: string;
  arch: BoardArch;
  image: string;
  publicKey: string;
  privateKeyPath: string;
  bridge: string;
  address: string;
  memoryMiB: number;
  cleanup: Cleanup;
  onFlashed?: (seconds: number) => void;
}

/** Flash the board's disk file, create its TAP and machine, start its console server; not yet powered. */
export async function setUpBoard(o: TestBoardOptions): Promise<TestBoard> {
  const disk = join(o.dir, `${o.name}.disk`);
  const firstBoot: FirstBootSettings = { hostname: o.name, user: 'synrace', authorizedKeys: [o.publicKey], management: { address: `${o.address}/24` } };
  const flashed = await flashBoardDisk({ image: o.image, disk, firstBoot });
  o.onFlashed?.(flashed.seconds);
  const tap = `${PREFIX}-${o.name.slice(-4)}-${process.pid % 1000}`.slice(0, 15);
  await createTap(tap, o.bridge);
  o.cleanup.add(`remove TAP ${tap}`, () => removeTap(tap));
  const stateDir = join(o.dir, `${o.name}-state`);
  const resource: QemuMachineResource = {
    name: o.name,
    arch: o.arch,
    memoryMiB: o.memoryMiB,
    cpus: 1,
    disk,
    nics: [{ tap, mac: testMac(o.arch === 'amd64' ? 0x0a : 0x0b) }],
    serialPath: join(o.dir, `${o.name}.tty`),
    qmpPath: join(o.dir, `${o.name}.qmp`),
    stateDir,
  };
  const machine = new QemuMachine(resource);
  await machine.create();
  o.cleanup.add(`destroy machine ${o.name}`, () => machine.destroy());
  const logFile = join(o.dir, `${o.name}.log`);
  const consoleServer = await ConsoleServer.start({ board: o.name, path: resource.serialPath, baudRate: 115200, logFile, socketPath: join(o.dir, `${o.name}.console.sock`) });
  o.cleanup.add(`stop console server ${o.name}`, () => consoleServer.stop());
  return {
    name: o.name,
    machine,
    power: new QmpPowerDriver(machine),
    consoleServer,
    logFile,
    address: o.address,
    login: { host: o.address, port: 22, user: 'synrace', privateKeyPath: o.privateKeyPath },
  };
}

/** A locally administered QEMU-style MAC, distinct per run and per board kind. */
function testMac(kind: number): string {
  const hex = (n: number) => (n & 0xff).toString(16).padStart(2, '0');
  return ['52', '54', '00', hex(kind), hex(process.pid >> 8), hex(process.pid)].join(':');
}

/**
 * The board's login prompt with its own (first-boot) hostname, after `since` in the log. Fails at once when
 * the board's power goes off meanwhile (its firmware ended: a guest poweroff, a crash), with the firmware's log.
 */
export async function waitForLogin(board: TestBoard, since: number, timeoutMs: number): Promise<string> {
  const stop = new AbortController();
  const poweredOff = (async () => {
    while (!stop.signal.aborted) {
      if (!(await board.machine.isPoweredOn())) {
        const firmware = await readFile(join(board.machine.resource.stateDir, 'firmware.log'), 'utf8').catch(() => '');
        throw new Error(`${board.name} switched off while booting; firmware log:\n${firmware.trim().split('\n').slice(-6).join('\n')}`);
      }
      await delay(1000, undefined, { signal: stop.signal }).catch(() => undefined);
    }
    return '';
  })();
  try {
    return await Promise.race([waitForConsole(board.logFile, new RegExp(`^${board.name} login: ?$`), timeoutMs, { since }), poweredOff]);
  } finally {
    stop.abort();
  }
}

/** The board's text lines of its console log. */
export async function consoleLines(board: TestBoard): Promise<string[]> {
  return (await readConsoleLog(board.logFile)).map(consoleText).filter((t): t is string => t !== undefined);
}

/** SSH with the host key the board printed on its console after byte `since` of its log (this boot's). */
export async function sshWithConsoleKey(board: TestBoard, since: number, retryUntilMs: number): Promise<{ shell: SshShell; hostKey: string }> {
  const hostKey = await waitForConsoleHostKey(board.logFile, since, 60_000);
  const shell = await SshShell.connect({ ...board.login, hostKey }, { timeoutMs: 15_000, retryUntilMs });
  return { shell, hostKey };
}

/** Average ping RTT in ms from the host, or undefined when nothing answered. */
export async function pingAverageMs(address: string, count = 5): Promise<number | undefined> {
  const { stdout } = await run(['ping', '-n', '-q', '-c', String(count), '-i', '0.2', '-W', '2', address], { allowFail: true, timeoutMs: 30_000 });
  const m = /= [\d.]+\/([\d.]+)\//.exec(stdout);
  return m ? Number(m[1]) : undefined;
}

/** Bytes of the console log so far: the `since` of a wait that must see only what follows. */
export async function logSize(board: TestBoard): Promise<number> {
  return (await stat(board.logFile).catch(() => ({ size: 0 }))).size;
}

/** CPU share (of one core) and resident memory of a process over `seconds`: what an idle board costs the host. */
export async function processUsage(pid: number, seconds: number): Promise<{ cpuPercent: number; rssMiB: number }> {
  const ticks = async () => {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks
  };
  const hz = Number((await run(['getconf', 'CLK_TCK'])).stdout.trim());
  const before = await ticks();
  await delay(seconds * 1000);
  const used = (await ticks()) - before;
  const rss = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return { cpuPercent: (100 * used) / hz / seconds, rssMiB: Number(rss?.[1] ?? 0) / 1024 };
}
