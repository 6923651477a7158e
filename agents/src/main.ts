// Agent entry point: `node main.js --config <board-config.json>`.
// Every line on stdout is `synrace-agent[<board>]: <message>`; the orchestrator
// routes stdout to the board's serial console and log file.
// Exit codes: 0 stopped by SIGTERM/SIGINT, 1 runtime failure, 2 bad usage or config.
import { BoardConfig, parseBoardConfig, readBoardConfigJson } from './board-config';
import { ConfigError } from './config-error';
import { enterRealtimeScheduling } from './io/realtime';

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

interface RunningRole {
  name: string;
  stop(): void;
}

// Above ordinary work, below the kernel's own RT threads (50 and up).
const DELAY_LINE_RT_PRIORITY = 10;

function startRoles(config: BoardConfig): RunningRole[] {
  const running: RunningRole[] = [];
  try {
    const wanDelay = config.roles['wan-delay'];
    if (wanDelay) {
      try {
        enterRealtimeScheduling(DELAY_LINE_RT_PRIORITY);
        log(`wan-delay: running SCHED_FIFO priority ${DELAY_LINE_RT_PRIORITY}`);
      } catch (err) {
        log(`wan-delay: WARNING: ${(err as Error).message}; delays will be less precise`);
      }
      // Loaded only now, so the epoll addon's watcher thread inherits the policy.
      const { startWanDelay } = require('./roles/wan-delay') as typeof import('./roles/wan-delay');
      const role = startWanDelay(wanDelay, log);
      running.push({
        name: 'wan-delay',
        stop() {
          role.close();
          for (const c of role.counters()) {
            if (c.forwarded + c.droppedLoss + c.droppedQueue === 0) continue;
            log(`wan-delay ${c.from}->${c.to}: forwarded=${c.forwarded} droppedLoss=${c.droppedLoss} droppedQueue=${c.droppedQueue}`);
          }
        },
      });
    }
  } catch (err) {
    for (const r of running) r.stop();
    throw err;
  }
  return running;
}

function main(): void {
  let running: RunningRole[];
  try {
    const raw = readBoardConfigJson(configPathFromArgs(process.argv.slice(2)));
    const named = (raw as { board?: unknown } | null)?.board;
    if (typeof named === 'string' && named !== '') board = named;
    running = startRoles(parseBoardConfig(raw));
  } catch (err) {
    if (err instanceof ConfigError) fail(`bad config: ${err.message}`, 2);
    fail(`startup failed: ${(err as Error).message}`, 1);
  }

  process.on('uncaughtException', (err) => fail(`fatal: ${err.stack ?? err.message}`, 1));
  const stop = (signal: NodeJS.Signals): void => {
    log(`stopping on ${signal}`);
    for (const r of running) r.stop();
    log('stopped');
    process.removeAllListeners('SIGTERM').removeAllListeners('SIGINT');
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main();
