import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SerialPort } from 'serialport';
import { readConsoleLog, waitForConsole } from '../src/drivers/console-client';
import { exited, stopProcess } from '../src/testing/processes';
import { startPtyPair } from '../src/testing/pty-pair';
import { collectFor, collectUntil, eventually, readToEnd } from '../src/testing/streams';
import { makeTempDir, removeTempDir } from '../src/testing/temp-dir';

const CONSOLE_SERVER = join(__dirname, '..', 'bin', 'console-server.js');
const STAMPED = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z nyc-gw \| /;

describe('console server on a pty null-modem pair', function () {
  this.timeout(15000);
  let dir: string | undefined;
  let socat: ChildProcess | undefined;
  let server: ChildProcess | undefined;
  let board: SerialPort | undefined;
  const sockets: Socket[] = [];
  const children: ChildProcess[] = [];
  let serialLink: string;
  let boardLink: string;
  let logFile: string;
  let socketPath: string;
  let readyLines: string[] = [];

  async function openBoardSide(): Promise<SerialPort> {
    const port = new SerialPort({ path: boardLink, baudRate: 115200, autoOpen: false, hupcl: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    return port;
  }

  async function closeBoardSide(): Promise<void> {
    const port = board;
    board = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  async function attachSocket(): Promise<Socket> {
    const socket = connect(socketPath);
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return socket;
  }

  before(async () => {
    dir = await makeTempDir('console');
    serialLink = join(dir, 'serial');
    boardLink = join(dir, 'board');
    logFile = join(dir, 'nyc-gw.log');
    socketPath = join(dir, 'nyc-gw.sock');
    socat = await startPtyPair(serialLink, boardLink);
    const configFile = join(dir, 'consoles.json');
    await writeFile(configFile, JSON.stringify({ consoles: [{ board: 'nyc-gw', path: serialLink, baudRate: 115200, logFile, socketPath }] }));
    server = spawn(process.execPath, [CONSOLE_SERVER, '--config', configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: server.stdout! });
    lines.on('line', (line) => readyLines.push(line));
    await eventually('the ready line', () => readyLines.length > 0, 5000);
    board = await openBoardSide();
  });

  after(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(children.map((child) => stopProcess(child)));
    await closeBoardSide();
    await stopProcess(server);
    await stopProcess(socat);
    await removeTempDir(dir);
  });

  it('prints one ready line per console when its port is open', () => {
    assert.deepEqual(readyLines.map((line) => JSON.parse(line)), [
      { event: 'ready', board: 'nyc-gw', path: serialLink, socketPath, logFile },
    ]);
  });

  it('logs every line the board prints with a timestamp', async () => {
    board!.write('first line\r\nsecond line\n');
    const matched = await waitForConsole(logFile, /^second line$/, 3000, { since: 0 });
    assert.match(matched, new RegExp(STAMPED.source + 'second line$'));
    const lines = await readConsoleLog(logFile);
    const first = lines.findIndex((line) => new RegExp(STAMPED.source + 'first line$').test(line));
    assert.ok(first !== -1 && lines[first + 1] === matched, lines.join('\n'));
  });

  it('flushes a partial line (a prompt) after a short idle', async () => {
    const waiting = waitForConsole(logFile, /^login: $/, 2000);
    board!.write('login: ');
    assert.match(await waiting, new RegExp(STAMPED.source + 'login: $'));
  });

  it('sends the live raw bytes to an attached client', async () => {
    const client = await attachSocket();
    const bytes = Buffer.from('\x1b[1mraw\x00bytes\x07\r\n');
    const received = collectUntil(client, (got) => got.length >= bytes.length, 3000);
    board!.write(bytes);
    assert.ok((await received).equals(bytes));
  });

  it('passes what a client writes to the board', async () => {
    const client = await attachSocket();
    const received = collectUntil(board!, (got) => got.includes('typed\r'), 3000);
    client.write('typed\r');
    assert.equal((await received).toString(), 'typed\r');
  });

  it('survives unplug and replug: notes both and logs later lines', async () => {
    await closeBoardSide();
    await stopProcess(socat);
    await eventually('an "unavailable" note', async () => (await readConsoleLog(logFile)).some((line) => / nyc-gw # console .* unavailable/.test(line)), 3000);
    const sizeBeforeReplug = (await stat(logFile)).size;
    socat = await startPtyPair(serialLink, boardLink);
    await eventually('an "open after" note', async () => (await readConsoleLog(logFile)).some((line) => / nyc-gw # console .* open after \d+ ms$/.test(line)), 3000);
    board = await openBoardSide();
    board.write('after replug\n');
    assert.match(await waitForConsole(logFile, /^after replug$/, 3000, { since: sizeBeforeReplug }), /after replug$/);
    assert.equal(readyLines.length, 1, 'ready is printed once, not on every reopen');
  });

  it('waitForConsole ignores earlier lines by default and times out with the last 10 log lines', async () => {
    board!.write(Array.from({ length: 15 }, (_, i) => `line ${String(i + 1).padStart(2, '0')}\n`).join(''));
    await waitForConsole(logFile, /^line 15$/, 3000, { since: 0 });
    const started = Date.now();
    await assert.rejects(waitForConsole(logFile, /^line 15$/, 300), (err: Error) => {
      assert.match(err.message, new RegExp(`timed out after 300 ms waiting for /\\^line 15\\$/ in ${logFile}; last 10 log lines:`));
      assert.ok(err.message.includes('| line 06\n') && err.message.endsWith('| line 15'), err.message);
      assert.ok(!err.message.includes('line 05'), err.message);
      return true;
    });
    assert.ok(Date.now() - started >= 300);
    const tail = await readConsoleLog(logFile, { tail: 2 });
    assert.deepEqual(tail.map((line) => line.replace(STAMPED, '')), ['line 14', 'line 15']);
  });

  it('attachConsole relays both ways and detaches on Ctrl-]', async () => {
    const clientModule = join(__dirname, '..', 'src', 'drivers', 'console-client.js');
    const script = `require(${JSON.stringify(clientModule)}).attachConsole(${JSON.stringify(socketPath)}, process.stdin, process.stdout).then(() => process.exit(0))`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(child);
    await collectUntil(child.stdout!, (got) => got.includes('press Ctrl-] to detach]'), 3000);
    const shown = collectUntil(child.stdout!, (got) => got.includes('hello from board'), 3000);
    board!.write('hello from board\r\n');
    await shown;
    const typed = collectUntil(board!, (got) => got.includes('typed in console\r'), 3000);
    child.stdin!.write('typed in console\r');
    assert.equal((await typed).toString(), 'typed in console\r');
    const goodbye = collectUntil(child.stdout!, (got) => got.includes('[detached]'), 3000);
    const boardAfterDetach = collectFor(board!, 500);
    child.stdin!.write('not sent\x1d');
    await goodbye;
    assert.equal((await exited(child)).code, 0);
    assert.equal((await boardAfterDetach).toString(), 'not sent', 'bytes before Ctrl-] are sent, Ctrl-] itself is not');
  });

  it('on SIGTERM closes everything, removes the socket and exits 0', async () => {
    server!.kill('SIGTERM');
    assert.deepEqual(await exited(server!), { code: 0, signal: null });
    assert.equal(existsSync(socketPath), false);
    const last = (await readConsoleLog(logFile, { tail: 1 }))[0];
    assert.match(last, / nyc-gw # console server stopped$/);
  });
});

describe('console server command line', function () {
  this.timeout(10000);
  let dir: string | undefined;
  after(() => removeTempDir(dir));

  it('refuses a config with a bad field, naming the file and the field', async () => {
    dir = await makeTempDir('console-config');
    const configFile = join(dir, 'consoles.json');
    await writeFile(configFile, JSON.stringify({ consoles: [{ board: 'nyc-gw', path: '/dev/null', baudRate: 'fast', logFile: 'x.log', socketPath: 'x.sock' }] }));
    const child = spawn(process.execPath, [CONSOLE_SERVER, '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    const stderr = readToEnd(child.stderr!);
    assert.equal((await exited(child)).code, 2);
    assert.ok((await stderr).includes(`${configFile}: consoles[0].baudRate must be a positive integer`), await stderr);
  });
});
