import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { BoardStuckError, bringUp, type BringUpTimeouts } from '../src/board-state/board-state-machine';
import { bringUpSteps } from '../src/board-state/bring-up-steps';
import { ConsoleLogWriter } from '../src/drivers/console-log';
import { ensureSshdRunDir, generateKeyPair, sshdCommand, writeSshdConfig } from '../src/drivers/sshd-config';
import type { SshEndpoint } from '../src/resources';
import { freeLoopbackPort, stopProcess } from '../src/testing/processes';
import { makeTempDir, removeTempDir } from '../src/testing/temp-dir';

const TIMEOUTS: BringUpTimeouts = { powered: 1000, booted: 1000, reachable: 3000, provisioned: 1000 };

describe('bring-up steps of a board with a console log and sshd', function () {
  this.timeout(20_000);
  let dir: string | undefined;
  let logFile: string;
  let sshdLog: string;
  let sshdArgv: string[];
  let endpoint: SshEndpoint;
  let sshd: ChildProcess | undefined;

  before(async () => {
    dir = await makeTempDir('bring-up');
    const hostKey = await generateKeyPair(join(dir, 'ssh_host_ed25519_key'), 'rep-iad');
    const userKey = await generateKeyPair(join(dir, 'id_ed25519'), 'synrace-test');
    const authorizedKeysPath = join(dir, 'authorized_keys');
    await writeFile(authorizedKeysPath, userKey.publicKey + '\n');
    const port = await freeLoopbackPort();
    const configPath = await writeSshdConfig({
      dir, listenAddress: '127.0.0.1', port, hostKeyPath: hostKey.privateKeyPath, authorizedKeysPath, pidFile: join(dir, 'sshd.pid'),
    });
    ensureSshdRunDir();
    sshdLog = join(dir, 'sshd.log');
    sshdArgv = sshdCommand(configPath, sshdLog);
    endpoint = { host: '127.0.0.1', port, user: userInfo().username, privateKeyPath: userKey.privateKeyPath, hostKey: hostKey.publicKey };
  });

  beforeEach(() => {
    logFile = join(dir!, `console-${Date.now()}.log`);
  });

  afterEach(async () => {
    await stopProcess(sshd);
    sshd = undefined;
  });

  after(async () => {
    await removeTempDir(dir);
  });

  async function printOnConsole(lines: string[]): Promise<void> {
    const writer = new ConsoleLogWriter(logFile, 'rep-iad');
    writer.output(Buffer.from(lines.map((line) => `${line}\n`).join('')));
    await writer.close();
  }

  /** Power for a board stand-in: it prints `lines` on its console at once and, if told, starts its sshd. */
  function powerPrinting(lines: string[], startsSshd: boolean) {
    return {
      on: async () => {
        // Printed before waitForBoot starts looking: the marker must still count.
        await printOnConsole(lines);
        if (startsSshd) sshd = spawn(sshdArgv[0], sshdArgv.slice(1), { stdio: 'ignore' });
      },
    };
  }

  it('provisions a board whose login prompt comes at once, logging in over SSH', async () => {
    let agentChecked = false;
    const transitions = await bringUp(
      'rep-iad',
      bringUpSteps({
        power: powerPrinting(['Starting kernel ...', 'rep-iad login: '], true),
        consoleLog: logFile,
        bootMarker: /login:/,
        ssh: endpoint,
        sshAttemptMs: 2000,
        provision: async () => {
          agentChecked = true;
        },
      }),
      TIMEOUTS,
    );
    assert.deepEqual(transitions.map((t) => t.to), ['powered', 'booted', 'reachable', 'provisioned']);
    assert.equal(agentChecked, true);
    assert.match(await readFile(sshdLog, 'utf8'), new RegExp(`Accepted publickey for ${userInfo().username}`));
  });

  it("does not take an earlier boot's marker for this one", async () => {
    await printOnConsole(['rep-iad login: ']);
    const err = await bringUp(
      'rep-iad',
      bringUpSteps({
        power: powerPrinting(['Starting kernel ...', 'Kernel panic - not syncing'], true),
        consoleLog: logFile,
        bootMarker: /login:/,
        ssh: endpoint,
        sshAttemptMs: 2000,
        provision: async () => undefined,
      }),
      { ...TIMEOUTS, booted: 600 },
    ).catch((e: unknown) => e);
    assert.ok(err instanceof BoardStuckError);
    assert.match(err.message, /^board rep-iad stuck in state 'powered': no boot marker on the console within 600 ms: /);
  });

  it("is stuck in 'booted' when the board's sshd never comes up", async () => {
    const err = await bringUp(
      'rep-iad',
      bringUpSteps({
        power: powerPrinting(['rep-iad login: '], false),
        consoleLog: logFile,
        bootMarker: /login:/,
        ssh: endpoint,
        sshAttemptMs: 500,
        provision: async () => undefined,
      }),
      { ...TIMEOUTS, reachable: 800 },
    ).catch((e: unknown) => e);
    assert.ok(err instanceof BoardStuckError);
    assert.match(err.message, /^board rep-iad stuck in state 'booted': not reachable over SSH within 800 ms: /);
    assert.equal(err.step, 'waitForSsh');
  });
});
