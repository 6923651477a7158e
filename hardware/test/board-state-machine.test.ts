import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { get, createServer as createHttpServer, type Server as HttpServer, type ServerResponse } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { BoardStuckError, bringUp, type BoardTransition, type BringUpStep, type BringUpSteps, type BringUpTimeouts } from '../src/board-state/board-state-machine';
import { waitForConsole } from '../src/drivers/console-client';
import { ConsoleLogWriter } from '../src/drivers/console-log';
import { freeLoopbackPort } from '../src/testing/processes';
import { eventually } from '../src/testing/streams';
import { makeTempDir, removeTempDir } from '../src/testing/temp-dir';

const TIMEOUTS: BringUpTimeouts = { powered: 1000, booted: 2000, reachable: 2000, provisioned: 2000 };

/** Connects to a real listener, retrying refusals until it answers or the step is aborted. */
function tcpReachable(port: number): BringUpStep {
  return async ({ signal }) => {
    for (;;) {
      const socket = connect(port, '127.0.0.1');
      try {
        await once(socket, 'connect', { signal });
        socket.destroy();
        return;
      } catch (err) {
        socket.destroy();
        if (signal.aborted) throw err;
        await delay(50);
      }
    }
  };
}

/** GET /health from a real HTTP server; the request is dropped when the step is aborted. */
function agentHealthy(port: number, aborted: AbortSignal[] = []): BringUpStep {
  return ({ signal }) =>
    new Promise((resolve, reject) => {
      aborted.push(signal);
      const req = get({ host: '127.0.0.1', port, path: '/health', signal }, (res) => {
        res.resume();
        if (res.statusCode === 200) resolve();
        else reject(new Error(`agent answered ${res.statusCode} ${res.statusMessage}`));
      });
      req.on('error', reject);
    });
}

describe('board state machine', function () {
  this.timeout(10_000);
  let dir: string | undefined;
  let logFile: string;
  let boardConsole: ConsoleLogWriter | undefined;
  const timers: NodeJS.Timeout[] = [];
  const servers: (Server | HttpServer)[] = [];
  const sockets: Socket[] = [];

  beforeEach(async () => {
    dir = await makeTempDir('board-state');
    logFile = join(dir, 'rep-iad.log');
  });

  afterEach(async () => {
    timers.splice(0).forEach(clearTimeout);
    sockets.splice(0).forEach((s) => s.destroy());
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
    await boardConsole?.close();
    boardConsole = undefined;
    await removeTempDir(dir);
  });

  /** A board that, once powered, prints `lines` on its console (a real log), one every 50 ms. */
  function printsOnPowerOn(lines: string[]): BringUpStep {
    return async () => {
      boardConsole = new ConsoleLogWriter(logFile, 'rep-iad');
      lines.forEach((line, i) => timers.push(setTimeout(() => boardConsole?.output(Buffer.from(`${line}\n`)), 50 * (i + 1))));
    };
  }

  const waitForLogin: BringUpStep = ({ timeoutMs }) => waitForConsole(logFile, /login:/, timeoutMs, { since: 0 }).then(() => undefined);

  async function listen(): Promise<number> {
    const server = createServer((socket) => sockets.push(socket)).listen(0, '127.0.0.1');
    servers.push(server);
    await once(server, 'listening');
    return (server.address() as { port: number }).port;
  }

  async function agent(answer: (res: ServerResponse) => void): Promise<number> {
    const server = createHttpServer((req, res) => {
      sockets.push(req.socket);
      answer(res);
    }).listen(0, '127.0.0.1');
    servers.push(server);
    await once(server, 'listening');
    return (server.address() as { port: number }).port;
  }

  function healthyAgent(): Promise<number> {
    return agent((res) => res.end('{"ok":true}'));
  }

  async function stuck(steps: BringUpSteps, timeouts = TIMEOUTS): Promise<{ err: BoardStuckError; transitions: BoardTransition[]; ms: number }> {
    const transitions: BoardTransition[] = [];
    const started = Date.now();
    const err = await bringUp('rep-iad', steps, timeouts, (t) => transitions.push(t)).then(
      () => assert.fail('bring-up succeeded'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof BoardStuckError, `not a BoardStuckError: ${String(err)}`);
    return { err, transitions, ms: Date.now() - started };
  }

  it('goes off -> powered -> booted -> reachable -> provisioned, reporting each transition', async () => {
    const transitions: BoardTransition[] = [];
    const result = await bringUp(
      'rep-iad',
      {
        powerOn: printsOnPowerOn(['U-Boot 2024.01', 'Starting kernel ...', 'rep-iad login: ']),
        waitForBoot: waitForLogin,
        waitForSsh: tcpReachable(await listen()),
        provision: agentHealthy(await healthyAgent()),
      },
      TIMEOUTS,
      (t) => transitions.push(t),
    );
    assert.deepEqual(
      transitions.map((t) => `${t.board}: ${t.from} -> ${t.to}`),
      ['rep-iad: off -> powered', 'rep-iad: powered -> booted', 'rep-iad: booted -> reachable', 'rep-iad: reachable -> provisioned'],
    );
    assert.deepEqual(result, transitions);
    // The login prompt is the third line, printed 150 ms after power-on.
    assert.ok(transitions[1].ms >= 100, `booted after ${transitions[1].ms} ms`);
  });

  it("is stuck in 'off' when power-on fails, and goes no further", async () => {
    let laterStepRan = false;
    const later: BringUpStep = async () => {
      laterStepRan = true;
    };
    const { err, transitions } = await stuck({
      powerOn: async () => {
        throw new Error('power relay of rep-iad (BCM 17): cannot export gpio529: EACCES');
      },
      waitForBoot: later,
      waitForSsh: later,
      provision: later,
    });
    assert.equal(err.message, "board rep-iad stuck in state 'off': not powered on within 1000 ms: power relay of rep-iad (BCM 17): cannot export gpio529: EACCES");
    assert.deepEqual([err.board, err.state, err.step, err.cause.message], ['rep-iad', 'off', 'powerOn', 'power relay of rep-iad (BCM 17): cannot export gpio529: EACCES']);
    assert.deepEqual(transitions, []);
    assert.equal(laterStepRan, false);
  });

  it("is stuck in 'powered' when the console never shows the boot marker", async () => {
    const { err, transitions } = await stuck(
      {
        powerOn: printsOnPowerOn(['U-Boot 2024.01', 'Starting kernel ...', 'Kernel panic - not syncing']),
        waitForBoot: waitForLogin,
        waitForSsh: tcpReachable(await listen()),
        provision: agentHealthy(await healthyAgent()),
      },
      { ...TIMEOUTS, booted: 500 },
    );
    assert.match(err.message, /^board rep-iad stuck in state 'powered': no boot marker on the console within 500 ms: /);
    assert.equal(err.step, 'waitForBoot');
    assert.deepEqual(transitions.map((t) => t.to), ['powered']);
  });

  it("is stuck in 'booted' when nothing listens, after the reachability timeout", async () => {
    const { err, transitions, ms } = await stuck(
      {
        powerOn: printsOnPowerOn(['rep-iad login: ']),
        waitForBoot: waitForLogin,
        waitForSsh: tcpReachable(await freeLoopbackPort()),
        provision: agentHealthy(await healthyAgent()),
      },
      { ...TIMEOUTS, reachable: 400 },
    );
    assert.equal(err.message, "board rep-iad stuck in state 'booted': not reachable over SSH within 400 ms: timed out after 400 ms");
    assert.equal(err.step, 'waitForSsh');
    assert.deepEqual(transitions.map((t) => t.to), ['powered', 'booted']);
    assert.ok(ms >= 400 + transitions[1].ms && ms < 2000, `gave up after ${ms} ms`);
  });

  it("is stuck in 'reachable' with the agent's answer when it is unhealthy", async () => {
    const unhealthy = await agent((res) => {
      res.statusCode = 503;
      res.end('starting');
    });
    const { err, transitions } = await stuck({
      powerOn: printsOnPowerOn(['rep-iad login: ']),
      waitForBoot: waitForLogin,
      waitForSsh: tcpReachable(await listen()),
      provision: agentHealthy(unhealthy),
    });
    assert.equal(err.message, "board rep-iad stuck in state 'reachable': not provisioned within 2000 ms: agent answered 503 Service Unavailable");
    assert.equal(err.step, 'provision');
    assert.deepEqual(transitions.map((t) => t.to), ['powered', 'booted', 'reachable']);
  });

  it('times out a step that never answers and tells it to stop', async () => {
    const hung = await agent(() => undefined);
    const signals: AbortSignal[] = [];
    const { err, ms } = await stuck(
      {
        powerOn: printsOnPowerOn(['rep-iad login: ']),
        waitForBoot: waitForLogin,
        waitForSsh: tcpReachable(await listen()),
        provision: agentHealthy(hung, signals),
      },
      { ...TIMEOUTS, provisioned: 300 },
    );
    assert.equal(err.message, "board rep-iad stuck in state 'reachable': not provisioned within 300 ms: timed out after 300 ms");
    assert.ok(ms >= 300 && ms < 2000, `gave up after ${ms} ms`);
    assert.equal(signals.length, 1);
    assert.equal(signals[0].aborted, true);
    // The aborted request closed its connection: the hung agent sees it go.
    const [agentSide] = sockets.slice(-1);
    await eventually('the hung agent to see the request dropped', () => agentSide.closed, 1000);
  });

  it('stops at once when cancelled mid-step, telling the step, and starts no further step', async () => {
    const cancel = new AbortController();
    let stepSignal: AbortSignal | undefined;
    let sshStarted = false;
    const started = Date.now();
    const bringing = bringUp(
      'rep-iad',
      {
        powerOn: async () => undefined,
        waitForBoot: async ({ signal }) => {
          stepSignal = signal;
          setTimeout(() => cancel.abort(new Error('interrupted by SIGINT')), 100);
          await new Promise((resolve) => setTimeout(resolve, 1500));
        },
        waitForSsh: async () => {
          sshStarted = true;
        },
        provision: async () => undefined,
      },
      TIMEOUTS,
      () => undefined,
      cancel.signal,
    );
    await assert.rejects(bringing, /^Error: interrupted by SIGINT$/);
    assert.ok(Date.now() - started < 1000, 'waited for the step to end');
    assert.equal(stepSignal?.aborted, true);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    assert.equal(sshStarted, false, 'a step started after the cancel');
  });
});
