#!/usr/bin/env node
// Usage: console-server --config <file.json>
// Serves every console in the config until SIGTERM/SIGINT. Prints one JSON
// line {"event":"ready","board","path","socketPath","logFile"} per console on
// stdout when its serial port first opens; exits 0 after a clean shutdown,
// 2 on a usage or config error.
import { parseArgs } from 'node:util';
import { loadConsoleServerConfig } from '../src/drivers/console-server-config';
import { ConsoleServer } from '../src/drivers/console-server';

async function main(): Promise<void> {
  let configFile: string | undefined;
  try {
    configFile = parseArgs({ options: { config: { type: 'string' } } }).values.config;
  } catch (err) {
    return usageError((err as Error).message);
  }
  if (configFile === undefined) return usageError('--config <file> is required');
  let config;
  try {
    config = loadConsoleServerConfig(configFile);
  } catch (err) {
    return usageError((err as Error).message);
  }

  const servers = await Promise.all(config.consoles.map((spec) => ConsoleServer.start(spec)));
  for (const server of servers) {
    const { board, path, socketPath, logFile } = server.spec;
    server.once('open', () => process.stdout.write(JSON.stringify({ event: 'ready', board, path, socketPath, logFile }) + '\n'));
  }

  const shutdown = async () => {
    await Promise.all(servers.map((server) => server.stop()));
    process.exit(0);
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

function usageError(message: string): void {
  process.stderr.write(`console-server: ${message}\nusage: console-server --config <file.json>\n`);
  process.exitCode = 2;
}

main().catch((err: Error) => {
  process.stderr.write(`console-server: ${err.message}\n`);
  process.exit(1);
});
