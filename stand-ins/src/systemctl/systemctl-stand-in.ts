// systemctl on a stand-in Pi, whose PID 1 is not systemd (this host has none running). It is bound
// over /usr/bin/systemctl in the board's mount namespace and does what provisioning and `down` ask of
// systemd with the unit files they write: enable/disable (the multi-user.target.wants links that
// boot follows), start/stop/restart by ExecStartPre/ExecStart/ExecStop/PIDFile, is-active,
// is-enabled. Output of a unit goes to the board's console, as StandardOutput=journal+console does.
// Restart=on-failure with RestartSec= is emulated by a shell loop around a simple unit's process, as
// systemd restarts it after a crash or a SIGKILL and not after a clean exit. Not emulated: other Restart=
// values, dependencies, quoting inside Exec lines (the units synrace writes need none).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const UNIT_DIR = '/etc/systemd/system';
const WANTS = join(UNIT_DIR, 'multi-user.target.wants');
/** Pids of simple units; the stand-in's boot empties /run/synrace as a Pi's boot empties its tmpfs /run. */
const STATE_DIR = '/run/synrace/systemctl-stand-in';
/** The board's serial console (bound over /dev/console by the stand-in's boot): where journal+console output shows. */
const CONSOLE = '/dev/console';

interface Unit { name: string; type: string; execStartPre?: string; execStart: string; execStop?: string; pidFile?: string; restartOnFailureSec?: number }

/** systemd time spans as units write them: "500ms", "1s", "2" (seconds). */
function seconds(span: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s)?$/.exec(span.trim());
  if (!m) throw new UnitError(`RestartSec=${span}: not a time span this stand-in reads`);
  return Number(m[1]) / (m[2] === 'ms' ? 1000 : 1);
}

class UnitError extends Error {}

function loadUnit(name: string): Unit {
  const file = join(UNIT_DIR, name);
  if (!existsSync(file)) throw new UnitError(`Unit ${name} not found.`);
  const service: Record<string, string> = {};
  let section = '';
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const header = /^\[(\w+)\]$/.exec(line.trim());
    if (header) section = header[1];
    const kv = /^(\w+)=(.*)$/.exec(line.trim());
    if (kv && section === 'Service') service[kv[1]] = kv[2];
  }
  if (!service.ExecStart) throw new UnitError(`${name}: no ExecStart= in [Service]`);
  const restartOnFailureSec = service.Restart === 'on-failure' ? seconds(service.RestartSec ?? '100ms') : undefined;
  return { name, type: service.Type ?? 'simple', execStartPre: service.ExecStartPre, execStart: service.ExecStart, execStop: service.ExecStop, pidFile: service.PIDFile, restartOnFailureSec };
}

/** Whether the process (or, for a negative pid, any process of the group) still runs. */
function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function pidOf(unit: Unit): number | undefined {
  const file = unit.type === 'forking' ? unit.pidFile : join(STATE_DIR, `${unit.name}.pid`);
  if (!file || !existsSync(file)) return undefined;
  return Number(readFileSync(file, 'utf8').trim()) || undefined;
}

function runToEnd(command: string, what: string): void {
  const console = openSync(CONSOLE, 'a');
  const [file, ...args] = command.split(/\s+/);
  const result = spawnSync(file, args, { stdio: ['ignore', console, console] });
  if (result.status !== 0) throw new UnitError(`${what} (${command}) failed with ${result.error?.message ?? `exit ${result.status}`}`);
}

function start(unit: Unit): void {
  if (alive(pidOf(unit))) return;
  if (unit.execStartPre) runToEnd(unit.execStartPre, `${unit.name}: ExecStartPre`);
  if (unit.type === 'forking') {
    runToEnd(unit.execStart, `${unit.name}: ExecStart`);
    return;
  }
  const console = openSync(CONSOLE, 'a');
  const argv = unit.execStart.split(/\s+/);
  const supervised = unit.restartOnFailureSec === undefined
    ? argv
    : ['sh', '-c', `while :; do "$@"; code=$?; [ $code -eq 0 ] && exit 0; echo "${unit.name}: main process exited, code $code; restarting"; sleep ${unit.restartOnFailureSec}; done`, unit.name, ...argv];
  // Its own process group, which stop() signals as a whole, as systemd signals a unit's cgroup.
  const child = spawn(supervised[0], supervised.slice(1), { detached: true, stdio: ['ignore', console, console] });
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(join(STATE_DIR, `${unit.name}.pid`), `${child.pid}\n`);
  child.unref();
}

async function stop(unit: Unit): Promise<void> {
  const pid = pidOf(unit);
  if (!alive(pid)) return;
  if (unit.execStop) runToEnd(unit.execStop, `${unit.name}: ExecStop`);
  // A simple unit is stopped when every process of its group is gone, as systemd waits for its cgroup.
  const target = unit.type === 'forking' ? pid! : -pid!;
  if (!unit.execStop) process.kill(target, 'SIGTERM');
  for (let waited = 0; alive(target) && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  if (alive(target)) process.kill(target, 'SIGKILL');
}

async function main(argv: string[]): Promise<number> {
  const now = argv.includes('--now');
  const [verb, ...names] = argv.filter((a) => !a.startsWith('--'));
  const units = () => names.map(loadUnit);
  switch (verb) {
    case 'daemon-reload':
      return 0;
    case 'enable':
      mkdirSync(WANTS, { recursive: true });
      for (const unit of units()) {
        if (!existsSync(join(WANTS, unit.name))) symlinkSync(join(UNIT_DIR, unit.name), join(WANTS, unit.name));
        if (now) start(unit);
      }
      return 0;
    case 'disable':
      for (const unit of units()) {
        rmSync(join(WANTS, unit.name), { force: true });
        if (now) await stop(unit);
      }
      return 0;
    case 'start':
      units().forEach(start);
      return 0;
    case 'stop':
      for (const unit of units()) await stop(unit);
      return 0;
    case 'restart':
      for (const unit of units()) {
        await stop(unit);
        start(unit);
      }
      return 0;
    case 'is-active': {
      const active = units().every((u) => alive(pidOf(u)));
      process.stdout.write(`${active ? 'active' : 'inactive'}\n`);
      return active ? 0 : 3;
    }
    case 'is-enabled': {
      const enabled = names.every((n) => existsSync(join(WANTS, n)));
      process.stdout.write(`${enabled ? 'enabled' : 'disabled'}\n`);
      return enabled ? 0 : 1;
    }
    default:
      process.stderr.write(`systemctl stand-in: "${verb}" is not emulated\n`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: Error) => {
    process.stderr.write(`${err instanceof UnitError ? '' : 'systemctl stand-in: '}${err.message}\n`);
    process.exitCode = 1;
  },
);
