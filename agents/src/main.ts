// Agent entry point: `node main.js --config <board-config.json>`.
// Every line on stdout is `synrace-agent[<board>]: <message>`; the orchestrator
// routes stdout to the board's serial console and log file.
// Exit codes: 0 stopped by SIGTERM/SIGINT, 1 runtime failure, 2 bad usage or config.
import { BoardConfig, parseBoardConfig, readBoardConfigJson } from './board-config';
import { ConfigError } from './config-error';
import { RACE_MODES, type RaceMode } from './race-mode';
import { booleanSwitch, type RunningRole } from './roles/running-role';

let board = '?';
const log = (message: string): void => {
  process.stdout.write(`synrace-agent[${board}]: ${message}\n`);
};

function fail(message: string, exitCode: number): never {
  log(message);
  process.exit(exitCode);
}

function configPathFromArgs(args: string[]): string {
  const i = args.indexOf('--config');
  if (i === -1 || args[i + 1] === undefined || args.length !== 2) {
    throw new ConfigError('usage: main.js --config <board-config.json>');
  }
  return args[i + 1];
}

// Role modules are loaded only when configured: a board loads what its roles need.
function startRole(config: BoardConfig, name: keyof BoardConfig['roles']): RunningRole | undefined {
  switch (name) {
    case 'wan-delay': {
      const wanDelay = config.roles['wan-delay'];
      if (!wanDelay) return undefined;
      const { startWanDelay } = require('./roles/wan-delay') as typeof import('./roles/wan-delay');
      // Without its engine the delay line delays nothing: the agent ends, and its supervisor starts it again.
      const role = startWanDelay(wanDelay, log, (code) => fail('wan-delay: cannot go on without the engine', code === 2 ? 2 : 1));
      return {
        name,
        counters: () => role.counters(),
        stop() {
          role.close();
          const e = role.engineCounters();
          log(`wan-delay switch: stations=${e.stations} macMoveRefused=${e.macMoveRefused} evicted=${e.evicted} aged=${e.aged}`);
          log(`wan-delay departures: lateOver1ms=${e.lateOver1ms} maxLateUs=${e.maxLateUs}`);
          for (const c of role.counters()) {
            if (c.forwarded + c.droppedLoss + c.droppedQueue === 0) continue;
            log(`wan-delay ${c.from}->${c.to}: forwarded=${c.forwarded} droppedLoss=${c.droppedLoss} droppedQueue=${c.droppedQueue}`);
          }
        },
      };
    }
    case 'client-gateway': {
      const gw = config.roles['client-gateway'];
      if (!gw) return undefined;
      const { startClientGateway } = require('./roles/client-gateway') as typeof import('./roles/client-gateway');
      const role = startClientGateway(gw, log);
      return {
        name,
        counters: () => role.counters(),
        table: () => role.table(),
        switches: {
          'winner-cache': booleanSwitch('winner-cache', (on) => role.setWinnerCache(on)),
          'kernel-path': booleanSwitch('kernel-path', (on) => role.setKernelPath(on)),
        },
        stop: () => role.close(),
      };
    }
    case 'server-switch': {
      const sw = config.roles['server-switch'];
      if (!sw) return undefined;
      const { startServerSwitch } = require('./roles/server-switch') as typeof import('./roles/server-switch');
      const { parseHolds } = require('./roles/server-switch-config') as typeof import('./roles/server-switch-config');
      const role = startServerSwitch(sw, log);
      return {
        name,
        counters: () => role.counters(),
        switches: {
          'race-mode': (value) => {
            if (!RACE_MODES.includes(value as never)) throw new Error(`race-mode takes one of ${RACE_MODES.join(', ')}, got ${JSON.stringify(value)}`);
            role.setRaceMode(value as RaceMode);
            return { raceMode: value };
          },
          holds: (value) => {
            const holds = parseHolds(value, sw.origins, 'holds');
            role.setHolds(holds);
            return { holds: value };
          },
        },
        stop: () => role.close(),
      };
    }
    case 'replica': {
      const rep = config.roles.replica;
      if (!rep) return undefined;
      const { startReplica } = require('./roles/replica') as typeof import('./roles/replica');
      const role = startReplica(rep, log);
      return {
        name,
        counters: () => role.counters(),
        switches: { busy: booleanSwitch('busy', (on) => role.setBusy(on)), dead: booleanSwitch('dead', (on) => role.setDead(on)) },
        stop: () => role.close(),
      };
    }
  }
}

function startRoles(config: BoardConfig): RunningRole[] {
  const running: RunningRole[] = [];
  try {
    for (const name of Object.keys(config.roles) as (keyof BoardConfig['roles'])[]) {
      const role = startRole(config, name);
      if (role) running.push(role);
    }
  } catch (err) {
    for (const r of running) r.stop();
    throw err;
  }
  return running;
}

async function startControl(config: BoardConfig, running: RunningRole[]): Promise<() => Promise<void>> {
  if (!config.control) return async () => undefined;
  const { startControlServer } = require('./control/control-server') as typeof import('./control/control-server');
  const started = Date.now();
  const table = running.find((r) => r.table)?.table;
  const server = await startControlServer(config.control, {
    health: () => ({ board: config.board, roles: running.map((r) => r.name), uptimeMs: Date.now() - started, pid: process.pid }),
    counters: () => Object.fromEntries(running.map((r) => [r.name, r.counters()])),
    table,
    switches: Object.assign({}, ...running.map((r) => r.switches ?? {})),
  });
  log(`control API on ${config.control.address}:${server.port}`);
  return () => server.close();
}

async function main(): Promise<void> {
  let running: RunningRole[] = [];
  let closeControl: () => Promise<void>;
  try {
    const raw = readBoardConfigJson(configPathFromArgs(process.argv.slice(2)));
    const named = (raw as { board?: unknown } | null)?.board;
    if (typeof named === 'string' && named !== '') board = named;
    const config = parseBoardConfig(raw);
    running = startRoles(config);
    closeControl = await startControl(config, running);
  } catch (err) {
    running.forEach((r) => r.stop());
    if (err instanceof ConfigError) fail(`bad config: ${err.message}`, 2);
    fail(`startup failed: ${(err as Error).message}`, 1);
  }

  process.on('uncaughtException', (err) => {
    // Fail open: with the steering rules gone the kernel forwards plainly, so clients still reach the origin.
    for (const r of running) {
      try {
        r.stop();
      } catch {
        // already failing; the fatal line below says why
      }
    }
    fail(`fatal: ${err.stack ?? err.message}`, 1);
  });
  const stop = (signal: NodeJS.Signals): void => {
    log(`stopping on ${signal}`);
    for (const r of running) r.stop();
    void closeControl().then(() => log('stopped'));
    process.removeAllListeners('SIGTERM').removeAllListeners('SIGINT');
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main();
