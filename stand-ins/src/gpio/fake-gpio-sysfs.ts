// A stand-in for the kernel's GPIO sysfs interface, run as its own process in
// the mount namespace where its directory is bound over /sys/class/gpio (see
// gpio-namespace.ts). Real sysfs reacts inside the write() call; this reacts
// to inotify events a moment later, so a scenario that needs a write's side
// effects (export creating gpioN/, direction setting the level) calls
// fakeGpioBarrier() first. Each reaction reads the file's current content, so
// two writes to one file within that moment count as the last one.

import { appendFileSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';

export interface FakeGpioChip {
  base: number;
  ngpio: number;
  label: string;
}

export interface FakeGpioConfig {
  chips: FakeGpioChip[];
  /** What an exported line that is still an input reads: the relay board's pull-up or pull-down. */
  idleLevel: 0 | 1;
  /** Bound over /sys/class/gpio by the namespace script. */
  gpioDir: string;
  /** Where new gpioN/ directories are built; on the same filesystem as gpioDir so they can be renamed into place. */
  stagingDir: string;
  eventsFile: string;
  barrierFile: string;
}

/** What the fake saw, in order; `at` is the written file's mtime, i.e. when the writer wrote. */
export type FakeGpioEvent =
  | { event: 'export'; gpio: number; at: number }
  | { event: 'unexport'; gpio: number; at: number }
  | { event: 'direction'; gpio: number; written: string; at: number }
  | { event: 'active_low'; gpio: number; written: string; at: number }
  /** The wire level changed (value written, or set by a direction write). */
  | { event: 'level'; gpio: number; level: 0 | 1; at: number }
  | { event: 'barrier'; token: string; at: number };

interface Line {
  dir: string;
  direction: 'in' | 'out';
  wire: 0 | 1;
  activeLow: 0 | 1;
  /** The value file's content as last written by the fake, to tell its own writes from the client's. */
  shownValue: string;
  watcher: FSWatcher;
}

class FakeGpioSysfs {
  private readonly lines = new Map<number, Line>();
  private lastBarrier = '';

  constructor(private readonly config: FakeGpioConfig) {}

  start(): void {
    const { gpioDir, chips, barrierFile } = this.config;
    for (const chip of chips) {
      const dir = join(gpioDir, `gpiochip${chip.base}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'base'), `${chip.base}\n`);
      writeFileSync(join(dir, 'ngpio'), `${chip.ngpio}\n`);
      writeFileSync(join(dir, 'label'), `${chip.label}\n`);
    }
    writeFileSync(join(gpioDir, 'export'), '');
    writeFileSync(join(gpioDir, 'unexport'), '');
    writeFileSync(barrierFile, '');
    watch(gpioDir, (type, name) => {
      if (type !== 'change') return;
      if (name === 'export') this.onExport();
      if (name === 'unexport') this.onUnexport();
    });
    watch(barrierFile, () => this.onBarrier());
  }

  private onExport(): void {
    const gpio = this.writtenNumber('export');
    if (gpio === undefined || this.lines.has(gpio)) return;
    // Built aside and watched before it appears: a client (onoff) opens and
    // writes the files the instant gpioN/ exists, and no write may be missed.
    const staged = join(this.config.stagingDir, `gpio${gpio}`);
    mkdirSync(staged);
    const wire = this.config.idleLevel;
    const files = { direction: 'in', value: `${wire}`, edge: 'none', active_low: '0' };
    for (const [file, content] of Object.entries(files)) writeFileSync(join(staged, file), `${content}\n`);
    const line: Line = {
      dir: join(this.config.gpioDir, `gpio${gpio}`),
      direction: 'in',
      wire,
      activeLow: 0,
      shownValue: `${wire}`,
      watcher: watch(staged, (type, name) => {
        if (type === 'change' && name !== null) this.onLineWrite(gpio, line, name);
      }),
    };
    this.lines.set(gpio, line);
    renameSync(staged, line.dir);
    this.record({ event: 'export', gpio, at: this.mtimeOf(join(this.config.gpioDir, 'export')) });
  }

  private onUnexport(): void {
    const gpio = this.writtenNumber('unexport');
    const line = gpio === undefined ? undefined : this.lines.get(gpio);
    if (gpio === undefined || line === undefined) return;
    line.watcher.close();
    rmSync(line.dir, { recursive: true });
    this.lines.delete(gpio);
    this.record({ event: 'unexport', gpio, at: this.mtimeOf(join(this.config.gpioDir, 'unexport')) });
  }

  private onLineWrite(gpio: number, line: Line, file: string): void {
    const path = join(line.dir, file);
    const written = readFileSync(path, 'utf8').trim();
    // The truncation of a write arrives as an event of its own.
    if (written === '') return;
    const at = this.mtimeOf(path);
    if (file === 'value' && written !== line.shownValue) {
      line.shownValue = written;
      this.setWire(gpio, line, (Number(written === '1') ^ line.activeLow) as 0 | 1, at);
    }
    if (file === 'active_low' && Number(written) !== line.activeLow) {
      this.record({ event: 'active_low', gpio, written, at });
      // Inversion changes what value reads, not the wire.
      line.activeLow = written === '1' ? 1 : 0;
      this.showValue(line);
    }
    // The fake's own rewrite ("high" becomes "out") reads back as the current
    // direction; so would a client repeating it, which is ignored here.
    if (file === 'direction' && written !== line.direction) {
      this.record({ event: 'direction', gpio, written, at });
      this.setDirection(gpio, line, written, at);
    }
  }

  // As the kernel does: "high"/"low" set the raw wire level, "out" writes a logical 0.
  private setDirection(gpio: number, line: Line, written: string, at: number): void {
    const wire = { high: 1, low: 0, out: line.activeLow, in: this.config.idleLevel }[written];
    if (wire === undefined) return;
    line.direction = written === 'in' ? 'in' : 'out';
    // A new file renamed into place raises no 'change' event, so this is not taken for a client's write.
    const replacement = join(this.config.stagingDir, `direction-${gpio}`);
    writeFileSync(replacement, `${line.direction}\n`);
    renameSync(replacement, join(line.dir, 'direction'));
    this.setWire(gpio, line, wire as 0 | 1, at);
    this.showValue(line);
  }

  private setWire(gpio: number, line: Line, wire: 0 | 1, at: number): void {
    if (wire === line.wire) return;
    line.wire = wire;
    this.record({ event: 'level', gpio, level: wire, at });
  }

  // In place, not renamed: the client keeps the value file open.
  private showValue(line: Line): void {
    const shown = `${line.wire ^ line.activeLow}`;
    if (shown === line.shownValue) return;
    line.shownValue = shown;
    writeFileSync(join(line.dir, 'value'), `${shown}\n`);
  }

  private onBarrier(): void {
    const token = readFileSync(this.config.barrierFile, 'utf8').trim();
    if (token === '' || token === this.lastBarrier) return;
    this.lastBarrier = token;
    this.record({ event: 'barrier', token, at: this.mtimeOf(this.config.barrierFile) });
  }

  private writtenNumber(file: string): number | undefined {
    const written = readFileSync(join(this.config.gpioDir, file), 'utf8').trim();
    return /^\d+$/.test(written) ? Number(written) : undefined;
  }

  private mtimeOf(path: string): number {
    return statSync(path).mtimeMs;
  }

  private record(event: FakeGpioEvent): void {
    appendFileSync(this.config.eventsFile, `${JSON.stringify(event)}\n`);
  }
}

export async function readFakeGpioEvents(eventsFile: string): Promise<FakeGpioEvent[]> {
  const text = await readFile(eventsFile, 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as FakeGpioEvent);
}

/** The environment variable through which scripts in the namespace find the fake's config file. */
export const FAKE_GPIO_CONFIG_ENV = 'SYNRACE_FAKE_GPIO_CONFIG';

/**
 * For scripts in the namespace: returns once the fake has reacted to every
 * write made before the call. The fake's watches share one inotify queue, so
 * once it has seen this barrier write it has seen all earlier ones.
 */
export async function fakeGpioBarrier(timeoutMs = 5000): Promise<void> {
  const config = JSON.parse(readFileSync(process.env[FAKE_GPIO_CONFIG_ENV] ?? '', 'utf8')) as FakeGpioConfig;
  const token = randomUUID();
  writeFileSync(config.barrierFile, token);
  const deadline = Date.now() + timeoutMs;
  while (!(await readFakeGpioEvents(config.eventsFile)).some((e) => e.event === 'barrier' && e.token === token)) {
    if (Date.now() > deadline) throw new Error(`the fake GPIO sysfs did not see barrier ${token} within ${timeoutMs} ms`);
    await delay(5);
  }
}

// Started by gpio-namespace.ts with the config file; says "ready" once the
// files exist, and ends when its stdin closes (the namespace script exits).
if (require.main === module) {
  const configFile = process.env[FAKE_GPIO_CONFIG_ENV] ?? '';
  new FakeGpioSysfs(JSON.parse(readFileSync(configFile, 'utf8')) as FakeGpioConfig).start();
  process.stdout.write('ready\n');
  process.stdin.on('end', () => process.exit(0)).resume();
}
