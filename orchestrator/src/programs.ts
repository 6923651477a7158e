import { join } from 'node:path';

/** The `synrace` command, to run it as a user would (the end-to-end suites do). */
export const SYNRACE_CLI_SCRIPT = join(__dirname, '..', 'bin', 'synrace.js');
