import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { AGENT_BUNDLE_DIR, type BoardConfigFile } from '@synrace/agents';
import { shellQuote, type SshShell } from '@synrace/hardware';
import { renderNginxConfig } from './nginx-config';
import { ensureNativeModules } from './native-modules';
import { renderServicesScript } from './services-script';
import { AGENT_UNIT, UNIT_DIR, WEB_UNIT, renderAgentUnit, renderWebUnit } from './systemd-units';
import type { WebContent } from './web-content';

/** Everything one board needs to be provisioned; paths are on the board. */
export interface ProvisionTarget {
  board: string;
  shell: SshShell;
  /** `/` on a Pi; a per-board directory on a virtual board, which shares the host's disk. */
  fsRoot: string;
  /**
   * How the board starts its services at boot: systemd units on a Pi; on a virtual board, a services
   * script its boot replays, writing to its console pty.
   */
  init: { kind: 'systemd' } | { kind: 'boot-script'; consoleTty: string; node: string };
  agentConfig?: BoardConfigFile;
  web?: { dynamic: boolean; content: WebContent };
}

/** Where provisioning puts the web server's files, below the board's root. */
const NGINX_CONFIG = 'etc/synrace/nginx.conf';
const NGINX_ERROR_LOG = 'var/log/synrace/nginx-error.log';
const NGINX_PID = 'run/synrace/nginx.pid';

/** Where provisioned files go on a board and how its services start: the backend decides. */
export type BoardLayout = Pick<ProvisionTarget, 'fsRoot' | 'init'>;

/** The agents are built for Node 20, the version this project targets. */
export const MIN_NODE_MAJOR = 20;

/** The major version of a `node --version` answer, 0 when it is not one. */
export function nodeMajor(versionOutput: string): number {
  return Number(/^v(\d+)\./.exec(versionOutput.trim())?.[1] ?? 0);
}

export class ProvisionError extends Error {
  constructor(readonly board: string, readonly step: string, cause: Error) {
    super(`provisioning ${board} failed at step "${step}": ${cause.message}`);
    this.name = 'ProvisionError';
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

export async function uploadTree(shell: SshShell, localDir: string, remoteDir: string): Promise<void> {
  const files = filesUnder(localDir);
  const dirs = [...new Set(files.map((f) => join(remoteDir, relative(localDir, f), '..')))];
  await run(shell, `mkdir -p ${dirs.map((d) => `'${d}'`).join(' ')}`);
  for (const file of files) await shell.upload(file, join(remoteDir, relative(localDir, file)));
}

async function run(shell: SshShell, command: string): Promise<string> {
  const result = await shell.exec(command, { timeoutMs: 30_000 });
  if (result.code !== 0) throw new Error(`\`${command}\` exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
  return result.stdout;
}

/**
 * Provisions a board over SSH as on real hardware: agent bundle and config, web content and nginx,
 * a services script that boot replays, then starts the services. Each failure names the board and step.
 */
export async function provisionBoard(t: ProvisionTarget): Promise<void> {
  const at = (path: string) => join(t.fsRoot, path);
  const step = async (name: string, work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (err) {
      throw new ProvisionError(t.board, name, err as Error);
    }
  };
  await step('prepare directories', () => run(t.shell, `mkdir -p '${at('etc/synrace')}' '${at('opt/synrace')}' '${at('var/log/synrace')}' '${at('run/synrace')}'`));
  let node = t.init.kind === 'boot-script' ? t.init.node : '';
  if (t.agentConfig) {
    await step('check node on the board', async () => {
      node ||= (await run(t.shell, 'command -v node || { echo "no node in PATH: install Node.js ' + MIN_NODE_MAJOR + ' (e.g. from NodeSource)" >&2; exit 1; }')).trim();
      const version = (await run(t.shell, `'${node}' --version`)).trim();
      if (nodeMajor(version) < MIN_NODE_MAJOR) throw new Error(`${node} is ${version}; the agent needs Node ${MIN_NODE_MAJOR} or newer`);
    });
    await step('upload agent bundle', () => uploadTree(t.shell, AGENT_BUNDLE_DIR, at('opt/synrace')));
    await step('load native modules on the board', () => ensureNativeModules(t.shell, node, at('opt/synrace')));
    // It holds the board's control token: readable by root alone.
    await step('write agent config', () => t.shell.upload(Buffer.from(JSON.stringify(t.agentConfig, null, 2)), at('etc/synrace/agent.json'), 0o600));
  }
  let nginxPath = '';
  if (t.web) {
    const web = t.web;
    if (t.init.kind === 'systemd') {
      await step('check nginx on the board', async () => {
        nginxPath = (await run(t.shell, 'command -v nginx || { echo "no nginx: apt install nginx-light on the board" >&2; exit 1; }')).trim();
      });
    }
    await step('sync web content', () => uploadTree(t.shell, web.content.dir, at('var/www/synrace')));
    const nginx = renderNginxConfig({ board: t.board, wwwRoot: at('var/www/synrace'), dynamic: web.dynamic, runDir: at('run/synrace') });
    await step('write nginx config', () => t.shell.upload(Buffer.from(nginx), at(NGINX_CONFIG)));
  }
  if (t.init.kind === 'systemd') await installUnits(t, { node, nginx: nginxPath }, step);
  else {
    const services = renderServicesScript({
      board: t.board,
      consoleTty: t.init.consoleTty,
      ...(t.web ? { nginxConfig: at(NGINX_CONFIG), nginxErrorLog: at(NGINX_ERROR_LOG) } : {}),
      ...(t.agentConfig ? { agent: { node, script: at('opt/synrace/agent.js'), config: at('etc/synrace/agent.json') } } : {}),
    });
    await step('write services script', () => t.shell.upload(Buffer.from(services), at('etc/synrace/services.sh'), 0o755));
    await step('start services', () => run(t.shell, `'${at('etc/synrace/services.sh')}'`));
  }
}

type Step = (name: string, work: () => Promise<unknown>) => Promise<void>;

/** A Pi's services are systemd units, enabled so that every boot starts them again. */
async function installUnits(t: ProvisionTarget, programs: { node: string; nginx: string }, step: Step): Promise<void> {
  const units: string[] = [];
  if (t.web) {
    const unit = renderWebUnit({ board: t.board, nginx: programs.nginx, nginxConfig: `/${NGINX_CONFIG}`, nginxErrorLog: `/${NGINX_ERROR_LOG}`, pidFile: `/${NGINX_PID}` });
    await step(`write ${WEB_UNIT}`, () => t.shell.upload(Buffer.from(unit), `${UNIT_DIR}/${WEB_UNIT}`));
    units.push(WEB_UNIT);
  }
  if (t.agentConfig) {
    const unit = renderAgentUnit({ board: t.board, node: programs.node, script: '/opt/synrace/agent.js', config: '/etc/synrace/agent.json' });
    await step(`write ${AGENT_UNIT}`, () => t.shell.upload(Buffer.from(unit), `${UNIT_DIR}/${AGENT_UNIT}`));
    units.push(AGENT_UNIT);
  }
  if (units.length === 0) return;
  // restart, not start: a board provisioned before runs the old agent, which must read the new config.
  await step('enable and start units', () => run(t.shell, `systemctl daemon-reload && systemctl enable ${units.join(' ')} && systemctl restart ${units.join(' ')}`));
}

/**
 * The command that stops or starts a provisioned board's web server the way its init does: systemd on a
 * Pi, nginx itself on a board whose boot script starts it. A stop returns once nginx is gone.
 */
export function webServerCommand(layout: BoardLayout, action: 'stop' | 'start'): string {
  if (layout.init.kind === 'systemd') return `systemctl ${action} ${WEB_UNIT}`;
  const at = (path: string) => shellQuote(join(layout.fsRoot, path));
  const nginx = `nginx -e ${at(NGINX_ERROR_LOG)} -c ${at(NGINX_CONFIG)}`;
  if (action === 'start') return nginx;
  return `${nginx} -s stop; for i in $(seq 100); do [ -e ${at(NGINX_PID)} ] || exit 0; sleep 0.05; done; echo 'nginx did not stop' >&2; exit 1`;
}

export function servicesScriptPath(fsRoot: string): string {
  return join(fsRoot, 'etc/synrace/services.sh');
}
