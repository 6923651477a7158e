import { strict as assert } from 'node:assert';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { SshEndpoint } from '../src/resources';
import { SshShell } from '../src/drivers/ssh-shell';
import { ensureSshdRunDir, generateKeyPair, sshdCommand, writeSshdConfig } from '../src/drivers/sshd-config';
import { freeLoopbackPort, stopProcess } from '../src/testing/processes';
import { makeTempDir, removeTempDir } from '../src/testing/temp-dir';

describe('SshShell against a real sshd', function () {
  this.timeout(20000);
  let dir: string | undefined;
  let sshd: ChildProcess | undefined;
  let endpoint: SshEndpoint;
  let pidFile: string;
  let strangerKey: string;
  const shells: SshShell[] = [];

  async function connect(overrides: Partial<SshEndpoint> = {}, retryUntilMs?: number): Promise<SshShell> {
    const shell = await SshShell.connect({ ...endpoint, ...overrides }, { timeoutMs: 5000, retryUntilMs });
    shells.push(shell);
    return shell;
  }

  before(async () => {
    dir = await makeTempDir('sshd');
    const hostKey = await generateKeyPair(join(dir, 'ssh_host_ed25519_key'), 'board-under-test');
    const userKey = await generateKeyPair(join(dir, 'id_ed25519'), 'synrace-test');
    strangerKey = (await generateKeyPair(join(dir, 'stranger_key'), 'stranger')).publicKey;
    const authorizedKeysPath = join(dir, 'authorized_keys');
    await writeFile(authorizedKeysPath, userKey.publicKey + '\n');
    pidFile = join(dir, 'sshd.pid');
    const port = await freeLoopbackPort();
    const configPath = await writeSshdConfig({
      dir, listenAddress: '127.0.0.1', port, hostKeyPath: hostKey.privateKeyPath, authorizedKeysPath, pidFile,
    });
    ensureSshdRunDir();
    const [command, ...args] = sshdCommand(configPath, join(dir, 'sshd.log'));
    sshd = spawn(command, args, { stdio: 'ignore' });
    endpoint = { host: '127.0.0.1', port, user: userInfo().username, privateKeyPath: userKey.privateKeyPath, hostKey: hostKey.publicKey };
  });

  after(async () => {
    await Promise.all(shells.map((shell) => shell.close()));
    await stopProcess(sshd);
    await removeTempDir(dir);
  });

  it('connects while sshd is still starting, and runs commands', async () => {
    const shell = await connect({}, 5000);
    const result = await shell.exec('echo hi; hostname', { timeoutMs: 5000 });
    assert.deepEqual(result, { code: 0, signal: null, stdout: `hi\n${hostname()}\n`, stderr: '' });
  });

  it('runs sshd in the foreground: the spawned pid is the listener and matches the pid file', async () => {
    assert.equal(sshd?.exitCode, null);
    assert.equal((await readFile(pidFile, 'utf8')).trim(), String(sshd?.pid));
  });

  it('reports exit status and stderr, and gives stdin EOF', async () => {
    const shell = await connect();
    const result = await shell.exec('cat; echo oops >&2; exit 3', { timeoutMs: 5000 });
    assert.deepEqual(result, { code: 3, signal: null, stdout: '', stderr: 'oops\n' });
  });

  it('fails a command that outlives its timeout, with its output so far, and ends it', async () => {
    const shell = await connect();
    const command = 'echo started; while echo tick; do sleep 0.1; done';
    const started = Date.now();
    // 10 s: beside two other lanes an exec printed nothing in its first 500 ms (CI63), and once in its first 3 s (CI67).
    await assert.rejects(shell.exec(command, { timeoutMs: 10_000 }), (err: Error) => {
      assert.match(err.message, new RegExp(`${endpoint.host}:${endpoint.port}: exec .*while echo tick.*: timed out after 10000 ms; stdout: "started\\\\ntick\\\\n`));
      return true;
    });
    assert.ok(Date.now() - started < 12_000);
    assert.equal(await countShells(shell, command), 0, 'the timed-out command is still running');
  });

  it('round-trips 1 MB of random bytes over SFTP', async () => {
    const shell = await connect();
    const data = randomBytes(1024 * 1024);
    const remotePath = join(dir!, 'remote-random.bin');
    await shell.upload(data, remotePath);
    const back = await shell.download(remotePath);
    assert.ok(back.equals(data));
    assert.ok((await readFile(remotePath)).equals(data));
  });

  it('uploads a local file and applies the mode even to an existing file', async () => {
    const shell = await connect();
    const localPath = join(dir!, 'agent.js');
    const remotePath = join(dir!, 'installed-agent.js');
    await writeFile(localPath, 'console.log("agent")\n');
    await writeFile(remotePath, 'old\n', { mode: 0o600 });
    await shell.upload(localPath, remotePath, 0o755);
    const result = await shell.exec(`stat -c %a ${remotePath}; cat ${remotePath}`, { timeoutMs: 5000 });
    assert.equal(result.stdout, '755\nconsole.log("agent")\n');
  });

  it('names the path when a download fails', async () => {
    const shell = await connect();
    await assert.rejects(shell.download('/nonexistent/file'), /127\.0\.0\.1:\d+: download of \/nonexistent\/file failed/);
  });

  it('refuses a server whose host key is not the pinned one, naming both fingerprints', async () => {
    const expected = fingerprint(strangerKey);
    const offered = fingerprint(endpoint.hostKey);
    assert.notEqual(expected, offered);
    await assert.rejects(connect({ hostKey: strangerKey }), (err: Error) => {
      assert.match(err.message, new RegExp(`${endpoint.host}:${endpoint.port}: host key mismatch`));
      assert.ok(err.message.includes(`pinned to ssh-ed25519 ${expected}`), err.message);
      assert.ok(err.message.includes(`offered ssh-ed25519 ${offered}`), err.message);
      return true;
    });
  });

  it('fails a board that accepts but never speaks SSH within the timeout, and the error after it goes unheard', async () => {
    // A board whose sshd hangs: it accepts, says nothing, and drops the connection after the client gave up.
    const silent = createServer((socket) => void setTimeout(() => socket.destroy(), 300));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const uncaught: Error[] = [];
    const hear = (err: Error) => uncaught.push(err);
    // Mocha's own handler would fail whichever test runs when it fires; this one must see it first.
    const mochas = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException').on('uncaughtException', hear);
    try {
      await assert.rejects(SshShell.connect({ ...endpoint, port: (silent.address() as AddressInfo).port }, { timeoutMs: 200 }), /connect failed \(client-timeout\)/);
      await delay(600);
    } finally {
      process.removeListener('uncaughtException', hear);
      for (const listener of mochas) process.on('uncaughtException', listener);
      silent.close();
    }
    assert.deepEqual(uncaught.map((e) => e.message), []);
  });

  it('gives up on a port nobody listens on once the retry deadline has passed', async () => {
    const port = await freeLoopbackPort();
    const started = Date.now();
    await assert.rejects(connect({ port }, 1200), (err: Error) => {
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}: connect failed \\(ECONNREFUSED\\)`));
      assert.match(err.message, /gave up after \d+ attempts/);
      return true;
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1000 && elapsed < 2500, `gave up after ${elapsed} ms`);
  });

  // How many shells still run `command` (anchored so that neither grep nor its
  // shell count themselves). Polls for up to a second: the command
  // ends asynchronously to the timeout's rejection.
  async function countShells(shell: SshShell, command: string): Promise<number> {
    let count = -1;
    for (let poll = 0; poll < 10 && count !== 0; poll++) {
      if (poll > 0) await delay(100);
      const result = await shell.exec(`ps -eo args | grep -c '^[^ ]*sh -c exec </dev/null; ${command}' || true`, { timeoutMs: 5000 });
      count = Number(result.stdout.trim());
    }
    return count;
  }

  // OpenSSH's own fingerprint of a key, to check ours against it.
  function fingerprint(publicKey: string): string {
    return execFileSync('ssh-keygen', ['-lf', '-'], { input: publicKey, encoding: 'utf8' }).split(' ')[1];
  }
});
