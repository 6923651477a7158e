import { join } from 'node:path';

/** The console server, run as its own process: it owns every serial line of a lab and outlives each CLI call. */
export const CONSOLE_SERVER_SCRIPT = join(__dirname, '..', 'bin', 'console-server.js');
