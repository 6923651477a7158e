#!/usr/bin/env node
// Usage: pi-console --config <file.json>
// Plays a Raspberry Pi's serial console on the board side of a pty: boot log, getty and login, then a real
// bash on the tty; a kernel that prints messages at any moment if asked. Config: { "tty", "hostname",
// "user", "password", "bootLogDelayMs" (default 2), "chattyMs" (0: quiet), "shell" (argv, default bash
// --norc -i) }. Runs until SIGTERM/SIGINT, then hangs up the shell and exits 0; 2 on a usage or config error.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { ReadStream } from 'node:tty';
import { parseArgs } from 'node:util';
import { run } from '@synrace/hardware';
import { banner, bootLog, KERNEL_CHATTER, motd } from './pi-console-text';

interface PiConsoleConfig {
  tty: string;
  hostname: string;
  user: string;
  password: string;
  bootLogDelayMs: number;
  chattyMs: number;
  shell: string[];
}

// login(1) waits before it says a password was wrong; shorter here, so tests stay quick.
const LOGIN_FAIL_DELAY_MS = 300;
// The kernel's clock when the boot log is done: later messages carry times after it.
const UPTIME_AT_START_US = 9_000_000;
const SHELL_HANGUP_GRACE_MS = 2000;

class PiConsole {
  // O_NOCTTY throughout: the tty is to become the controlling terminal of the shell's session, not of ours.
  private readonly out: number;
  private readonly startedAt = performance.now();
  private shell?: ChildProcess;

  constructor(private readonly config: PiConsoleConfig) {
    this.out = openSync(config.tty, constants.O_WRONLY | constants.O_NOCTTY);
  }

  async boot(): Promise<void> {
    // Like a getty, set the line up (cooked, echo, CR LF out) rather than take the raw mode socat left.
    await this.stty('sane');
    for (const line of bootLog(this.config.hostname)) {
      this.write(`${line}\n`);
      await delay(this.config.bootLogDelayMs);
    }
    if (this.config.chattyMs > 0) this.chatter();
  }

  /** getty, login and a shell, again after every logout, as systemd restarts serial-getty. */
  async serve(): Promise<never> {
    for (;;) {
      // A program killed in the last session may have left the line raw or without echo.
      await this.stty('sane');
      this.write(banner(this.config.hostname));
      await this.login();
      this.write(motd(this.config.hostname));
      await this.runShell();
    }
  }

  /** Hangs up the shell, if one runs: interactive bash ignores SIGTERM, and a hangup is how a console session ends. */
  async stop(): Promise<void> {
    const shell = this.shell;
    if (shell === undefined || shell.exitCode !== null || shell.signalCode !== null) return;
    shell.kill('SIGHUP');
    const killer = setTimeout(() => shell.kill('SIGKILL'), SHELL_HANGUP_GRACE_MS);
    await once(shell, 'exit');
    clearTimeout(killer);
  }

  private async login(): Promise<void> {
    const { hostname, user, password } = this.config;
    for (;;) {
      this.prompt(`${hostname} login: `);
      const name = await this.readLine();
      if (name === '') continue;
      // Echo goes off before the prompt shows, so that a password typed at once is not echoed.
      await this.stty('-echo');
      this.prompt('Password: ');
      const given = await this.readLine();
      await this.stty('echo');
      this.write('\n');
      if (name === user && given === password) return;
      await delay(LOGIN_FAIL_DELAY_MS);
      this.write('\nLogin incorrect\n');
    }
  }

  private async runShell(): Promise<void> {
    const { tty, hostname, user, shell } = this.config;
    const home = process.env.HOME ?? '/';
    const ttyFd = openSync(tty, constants.O_RDWR | constants.O_NOCTTY);
    // setsid --ctty: the shell leads a new session whose controlling terminal is the tty, as after a real
    // login, so it has job control and Ctrl-C reaches its commands. Not detached: setsid then needs no fork,
    // and this.shell is the shell itself.
    this.shell = spawn('setsid', ['--ctty', ...shell], {
      stdio: [ttyFd, ttyFd, ttyFd],
      cwd: home,
      env: { PATH: process.env.PATH, HOME: home, USER: user, LOGNAME: user, TERM: 'vt220', PS1: `${user}@${hostname}:\\w$ `, HISTFILE: '' },
    });
    closeSync(ttyFd);
    await once(this.shell, 'exit');
    this.shell = undefined;
  }

  /**
   * One line typed at the console. The reader is closed as soon as the line is in, so nothing here reads
   * the tty while the shell runs (it would take the shell's input). In canonical mode a read returns at
   * most one line, so nothing typed after it is lost.
   */
  private readLine(): Promise<string> {
    const input = new ReadStream(openSync(this.config.tty, constants.O_RDONLY | constants.O_NOCTTY));
    input.setEncoding('utf8');
    return new Promise((resolve, reject) => {
      let typed = '';
      const done = (line: string) => {
        input.destroy();
        resolve(line);
      };
      input.on('data', (chunk: string) => {
        typed += chunk;
        const end = typed.indexOf('\n');
        if (end !== -1) done(typed.slice(0, end));
      });
      // Ctrl-D: an empty answer, which getty and login take as such.
      input.on('end', () => done(typed));
      input.on('error', reject);
    });
  }

  /** Writes a prompt, which a chatty kernel sometimes breaks into, as printk does on a real console. */
  private prompt(text: string): void {
    if (this.config.chattyMs === 0 || Math.random() < 0.5) return this.write(text);
    const at = 1 + Math.floor(Math.random() * (text.length - 1));
    this.write(text.slice(0, at));
    this.kernelMessage();
    this.write(text.slice(at));
  }

  private chatter(): void {
    const next = this.config.chattyMs * (0.5 + Math.random());
    setTimeout(() => {
      this.kernelMessage();
      this.chatter();
    }, next);
  }

  private kernelMessage(): void {
    const uptimeUs = UPTIME_AT_START_US + Math.round((performance.now() - this.startedAt) * 1000);
    const seconds = String(Math.floor(uptimeUs / 1e6)).padStart(5);
    const micros = String(uptimeUs % 1e6).padStart(6, '0');
    const message = KERNEL_CHATTER[Math.floor(Math.random() * KERNEL_CHATTER.length)];
    this.write(`[${seconds}.${micros}] ${message}\n`);
  }

  // Synchronous, so that a kernel message cannot land inside another write of ours; the tty's own output
  // processing (onlcr) turns \n into the console's CR LF.
  private write(text: string): void {
    writeSync(this.out, text);
  }

  private async stty(...settings: string[]): Promise<void> {
    await run(['stty', '-F', this.config.tty, ...settings]);
  }
}

function loadConfig(file: string): PiConsoleConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) ?? {};
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  const fail = (field: string, problem: string): never => {
    throw new Error(`${file}: ${field} ${problem}`);
  };
  for (const key of ['tty', 'hostname', 'user']) {
    if (typeof raw[key] !== 'string' || raw[key] === '') fail(key, 'must be a non-empty string');
  }
  if (typeof raw.password !== 'string') fail('password', 'must be a string');
  const millis = (key: string, fallback: number): number => {
    const value = raw[key] ?? fallback;
    return typeof value === 'number' && value >= 0 ? value : fail(key, 'must be a number of milliseconds, 0 or more');
  };
  const shell = raw.shell ?? ['bash', '--norc', '-i'];
  if (!Array.isArray(shell) || shell.length === 0 || !shell.every((arg) => typeof arg === 'string')) fail('shell', 'must be a non-empty array of strings');
  return {
    tty: raw.tty as string,
    hostname: raw.hostname as string,
    user: raw.user as string,
    password: raw.password as string,
    bootLogDelayMs: millis('bootLogDelayMs', 2),
    chattyMs: millis('chattyMs', 0),
    shell: shell as string[],
  };
}

async function main(): Promise<void> {
  let config: PiConsoleConfig;
  try {
    const configFile = parseArgs({ options: { config: { type: 'string' } } }).values.config;
    if (configFile === undefined) throw new Error('--config <file> is required');
    config = loadConfig(configFile);
  } catch (err) {
    process.stderr.write(`pi-console: ${(err as Error).message}\nusage: pi-console --config <file.json>\n`);
    process.exitCode = 2;
    return;
  }
  const pi = new PiConsole(config);
  const shutdown = async () => {
    await pi.stop();
    process.exit(0);
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  await pi.boot();
  await pi.serve();
}

main().catch((err: Error) => {
  process.stderr.write(`pi-console: ${err.message}\n`);
  process.exit(1);
});
