import { readFileSync } from 'node:fs';

/** One board console served by the console server. */
export interface ConsoleSpec {
  board: string;
  /** Serial device, e.g. /dev/serial/by-id/usb-FTDI_..., or a pty link for a virtual board. */
  path: string;
  baudRate: number;
  logFile: string;
  /** Unix socket where users attach to the live console. */
  socketPath: string;
}

export interface ConsoleServerConfig {
  consoles: ConsoleSpec[];
}

// Board names appear unquoted in log lines, so they must not contain spaces.
const BOARD_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Reads and validates a console server config; errors name the file and the offending field. */
export function loadConsoleServerConfig(file: string): ConsoleServerConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  const fail = (field: string, problem: string): never => {
    throw new Error(`${file}: ${field} ${problem}`);
  };
  const consoles = (raw as { consoles?: unknown } | null)?.consoles;
  if (!Array.isArray(consoles) || consoles.length === 0) fail('consoles', 'must be a non-empty array');
  const specs = (consoles as unknown[]).map((entry, i): ConsoleSpec => {
    const at = `consoles[${i}]`;
    const spec = (entry ?? {}) as Record<string, unknown>;
    for (const key of ['board', 'path', 'logFile', 'socketPath']) {
      if (typeof spec[key] !== 'string' || spec[key] === '') fail(`${at}.${key}`, 'must be a non-empty string');
    }
    if (!BOARD_NAME.test(spec.board as string)) fail(`${at}.board`, `must match ${BOARD_NAME}`);
    if (!Number.isInteger(spec.baudRate) || (spec.baudRate as number) <= 0) fail(`${at}.baudRate`, 'must be a positive integer');
    return { board: spec.board, path: spec.path, baudRate: spec.baudRate, logFile: spec.logFile, socketPath: spec.socketPath } as ConsoleSpec;
  });
  for (const key of ['board', 'path', 'logFile', 'socketPath'] as const) {
    const seen = new Set<string>();
    specs.forEach((spec, i) => {
      if (seen.has(spec[key])) fail(`consoles[${i}].${key}`, `repeats ${JSON.stringify(spec[key])}; each console needs its own`);
      seen.add(spec[key]);
    });
  }
  return { consoles: specs };
}
