import { join } from 'node:path';

/** The agent's entry point, to run it on this host (the virtual lab's WAN delay line). */
export const AGENT_MAIN_SCRIPT = join(__dirname, 'main.js');

/** The one-file agent and its native modules, as provisioning copies them onto a board (scripts/bundle.js). */
export const AGENT_BUNDLE_DIR = join(__dirname, '..', 'bundle');
