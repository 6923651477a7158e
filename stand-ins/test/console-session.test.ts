import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConsoleServer, ConsoleSession, waitForConsole } from '@synrace/hardware';
import { Cleanup, exited, makeTempDir, removeTempDir, startPtyPair, stopProcess } from '@synrace/hardware/testing';
import { PI_CONSOLE_SCRIPT as PI_CONSOLE } from '../src/index';
const STAMPED = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z pi-01 \| /;
const CREDENTIALS = { user: 'synrace', password: 'raspberry-7' };
const KERNEL_MESSAGE = /\[\s*\d+\.\d{6}\] /;

interface Pi {
  logFile: string;
  socketPath: string;
  simulator: ChildProcess;
  /** The null-modem: pulling it is unplugging the USB adapter. */
  socat: ChildProcess;
  serialLink: string;
  boardLink: string;
  configFile: string;
}

/**
 * A Pi on a pty null-modem: the console server on the host end, the simulator on the board end, up to the
 * getty banner. Everything is stopped by `cleanup`, newest first.
 */
async function startPi(cleanup: Cleanup, chattyMs = 0): Promise<Pi> {
  const dir = await makeTempDir('console-session');
  cleanup.add('remove temp dir', () => removeTempDir(dir));
  const serialLink = join(dir, 'serial');
  const boardLink = join(dir, 'board');
  const socat = await startPtyPair(serialLink, boardLink);
  cleanup.add('stop socat', () => stopProcess(socat));
  const logFile = join(dir, 'pi-01.log');
  const socketPath = join(dir, 'console.sock');
  const server = await ConsoleServer.start({ board: 'pi-01', path: serialLink, baudRate: 115200, logFile, socketPath });
  cleanup.add('stop console server', () => server.stop());
  await once(server, 'open');
  const configFile = join(dir, 'pi-console.json');
  await writeFile(configFile, JSON.stringify({ tty: boardLink, hostname: 'pi-01', ...CREDENTIALS, bootLogDelayMs: 1, chattyMs }));
  const simulator = spawn(process.execPath, [PI_CONSOLE, '--config', configFile], { stdio: ['ignore', 'inherit', 'inherit'] });
  cleanup.add('stop simulator', () => stopProcess(simulator));
  // The banner, not the prompt: a chatty kernel may break into the prompt's log line.
  await waitForConsole(logFile, /^Debian GNU\/Linux 12 pi-01 ttyAMA0$/, 5000, { since: 0 });
  return { logFile, socketPath, simulator, socat, serialLink, boardLink, configFile };
}

async function openSession(pi: Pi, cleanup: Cleanup): Promise<ConsoleSession> {
  const session = await ConsoleSession.open(pi.socketPath, { board: 'pi-01' });
  cleanup.add('close console session', () => session.close());
  return session;
}

/** The board's text of the log lines matching `pattern`, from byte `since` of the log on. */
async function boardLines(logFile: string, pattern: RegExp, since = 0): Promise<string[]> {
  const log = (await readFile(logFile)).subarray(since).toString();
  return log.split('\n').filter((line) => STAMPED.test(line)).map((line) => line.replace(STAMPED, '')).filter((text) => pattern.test(text));
}

describe('console session on a simulated Raspberry Pi console', function () {
  this.timeout(10000);
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('the Pi boot log and the login prompt reach the console log, timestamped', async () => {
    const pi = await startPi(cleanup);
    assert.match(await waitForConsole(pi.logFile, /^pi-01 login: $/, 3000, { since: 0 }), STAMPED);
    const texts = await boardLines(pi.logFile, /^/);
    const expected = [
      '[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x410fd083]',
      '[    0.000000] Machine model: Raspberry Pi 4 Model B Rev 1.5',
      '[    6.102345] bcmgenet fd580000.ethernet eth0: Link is Up - 1Gbps/Full - flow control rx/tx',
      '[  OK  ] Started ssh.service - OpenBSD Secure Shell server.',
      'Debian GNU/Linux 12 pi-01 ttyAMA0',
      'pi-01 login: ',
    ];
    const at = expected.map((text) => texts.indexOf(text));
    assert.ok(at.every((index, i) => index !== -1 && (i === 0 || index > at[i - 1])), `not all, or not in order:\n${texts.join('\n')}`);
    assert.ok(texts.some((text) => text.startsWith('[    0.000000] Linux version 6.6.51+rpt-rpi-v8 ')));
  });

  it('logs in and runs commands, giving back their output and exit status', async () => {
    const pi = await startPi(cleanup);
    const session = await openSession(pi, cleanup);
    await session.login(CREDENTIALS, 5000);
    assert.deepEqual(await session.run('echo hello; false', 3000), { code: 1, output: 'hello' });
    assert.deepEqual(await session.run('printf "%s\\n" one two three', 3000), { code: 0, output: 'one\ntwo\nthree' });
    assert.deepEqual(await session.run("echo 'x$ '; echo 'pi-01 login: '; echo after", 3000), { code: 0, output: 'x$ \npi-01 login: \nafter' });
    assert.deepEqual(await session.run('printf abc', 3000), { code: 0, output: 'abc' });
    assert.deepEqual(await session.run('cd /tmp; (exit 7);', 3000), { code: 7, output: '' });
    assert.deepEqual(await session.run('pwd\necho "$PS1"', 3000), { code: 0, output: '/tmp\nsynrace@pi-01:\\w$ ' }, 'one shell: cd stays');
  });

  it('a wrong password fails with "Login incorrect"; the right one then logs in', async () => {
    const pi = await startPi(cleanup);
    const session = await openSession(pi, cleanup);
    await assert.rejects(session.login({ ...CREDENTIALS, password: 'wrong' }, 5000), /^Error: pi-01: login as synrace failed: Login incorrect$/);
    await session.login(CREDENTIALS, 5000);
    assert.deepEqual(await session.run('echo in', 3000), { code: 0, output: 'in' });
    assert.equal((await boardLines(pi.logFile, /Password: $/)).length, 2);
  });

  it('with a kernel printing all the time, login and 20 runs in a row still give exactly what was printed', async () => {
    const pi = await startPi(cleanup, 30);
    const session = await openSession(pi, cleanup);
    const since = (await stat(pi.logFile)).size;
    await session.login(CREDENTIALS, 5000);
    const oneToFifty = Array.from({ length: 50 }, (_, i) => String(i + 1)).join('\n');
    for (let i = 0; i < 20; i++) {
      // Line by line with pauses, so that kernel messages land inside the output, not only around it.
      const command = i % 2 === 0 ? 'seq 1 50' : 'for n in $(seq 1 50); do echo $n; sleep 0.002; done';
      assert.deepEqual(await session.run(command, 3000), { code: 0, output: oneToFifty }, command);
    }
    let insideOutput = 0;
    let running = false;
    for (const line of await boardLines(pi.logFile, /^/, since)) {
      if (/SYNRACE-\w+-begin$/.test(line)) running = true;
      else if (/SYNRACE-\w+-end \d+$/.test(line)) running = false;
      else if (running && KERNEL_MESSAGE.test(line)) insideOutput++;
    }
    assert.ok(insideOutput >= 5, `only ${insideOutput} kernel messages inside command output`);
  });

  it('login returns at once when the console is already at a shell prompt', async () => {
    const pi = await startPi(cleanup);
    const first = await openSession(pi, cleanup);
    await first.login(CREDENTIALS, 5000);
    const shellPid = (await first.run('echo $$', 3000)).output;
    first.close();
    const second = await openSession(pi, cleanup);
    const started = Date.now();
    await second.login(CREDENTIALS, 5000);
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    assert.deepEqual(await second.run('echo $$', 3000), { code: 0, output: shellPid }, 'the same shell');
    assert.equal((await boardLines(pi.logFile, /Password: $/)).length, 1);
  });

  it('logout brings the login prompt back, and the next login asks for the password again', async () => {
    const pi = await startPi(cleanup);
    const session = await openSession(pi, cleanup);
    await session.login(CREDENTIALS, 5000);
    const since = (await stat(pi.logFile)).size;
    await session.logout(3000);
    await waitForConsole(pi.logFile, /^pi-01 login: $/, 3000, { since });
    await session.login(CREDENTIALS, 5000);
    assert.equal((await boardLines(pi.logFile, /Password: $/)).length, 2);
  });

  it('a run that times out names the board, what it waited for and the last output, and is interrupted', async () => {
    const pi = await startPi(cleanup);
    const session = await openSession(pi, cleanup);
    await session.login(CREDENTIALS, 5000);
    await assert.rejects(session.run('echo started; sleep 5', 500), (err: Error) => {
      assert.match(err.message, /^pi-01: timed out after 500 ms waiting for the end of "echo started; sleep 5"; last \d+ characters received: ".*\\nstarted\\n"$/);
      return true;
    });
    const started = Date.now();
    assert.deepEqual(await session.run('echo next', 3000), { code: 0, output: 'next' });
    assert.ok(Date.now() - started < 2000, 'Ctrl-C ended the sleep');
  });

  it('the simulator hangs up the shell on SIGTERM and exits 0; a login then times out, saying what it saw last', async () => {
    const pi = await startPi(cleanup);
    const session = await openSession(pi, cleanup);
    await session.login(CREDENTIALS, 5000);
    const shellPid = Number((await session.run('echo $$', 3000)).output);
    pi.simulator.kill('SIGTERM');
    assert.deepEqual(await exited(pi.simulator), { code: 0, signal: null });
    assert.throws(() => process.kill(shellPid, 0), /ESRCH/);
    await assert.rejects(session.login(CREDENTIALS, 300), (err: Error) => {
      assert.match(err.message, /^pi-01: timed out after 300 ms waiting for a login or shell prompt; last \d+ characters received: ".*synrace@pi-01:~\$ .*"$/);
      return true;
    });
  });

  it('open names the board and the socket when nothing listens there', async () => {
    await assert.rejects(ConsoleSession.open('/nonexistent/console.sock', { board: 'pi-09' }), /^Error: pi-09: cannot open console \/nonexistent\/console\.sock: .*ENOENT/);
  });

  it('after the adapter is unplugged and plugged back, the same console server logs the new boot and logs in', async () => {
    const pi = await startPi(cleanup);
    await stopProcess(pi.socat);
    // The board's end of the line is gone too: the simulator, like a Pi's getty, loses its tty.
    await exited(pi.simulator);
    const since = (await stat(pi.logFile)).size;
    const socat = await startPtyPair(pi.serialLink, pi.boardLink);
    cleanup.add('stop the replugged socat', () => stopProcess(socat));
    // What a board prints while nobody holds the adapter open is lost, on a Pi as here: boot it once the server is back.
    for (let waited = 0; !/pi-01 # console \S+ open after \d+ ms/.test(await readFile(pi.logFile, 'utf8')); waited += 50) {
      assert.ok(waited < 3000, 'the console server did not reopen the replugged adapter within 3 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const simulator = spawn(process.execPath, [PI_CONSOLE, '--config', pi.configFile], { stdio: ['ignore', 'inherit', 'inherit'] });
    cleanup.add('stop the rebooted simulator', () => stopProcess(simulator));
    await waitForConsole(pi.logFile, /^Debian GNU\/Linux 12 pi-01 ttyAMA0$/, 8000, { since });
    const session = await openSession(pi, cleanup);
    await session.login(CREDENTIALS, 5000);
    assert.deepEqual(await session.run('echo replugged', 3000), { code: 0, output: 'replugged' });
    assert.match(await readFile(pi.logFile, 'utf8'), /pi-01 # console \S+ unavailable/);
  });
});
