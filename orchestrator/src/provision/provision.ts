import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { SshShell } from '@synrace/hardware';
import { renderNginxConfig } from './nginx-config';
import { renderServicesScript } from './services-script';
import type { WebContent } from './web-content';

/** Everything one board needs to be provisioned; paths are on the board. */
export interface ProvisionTarget {
  board: string;
  shell: SshShell;
  /** `/` on a Pi; a per-board directory on a virtual board, which shares the host's disk. */
  fsRoot: string;
  consoleTty: string;
  /** Node on the board. */
  node: string;
  agentConfig?: object;
  web?: { dynamic: boolean; content: WebContent };
}

export class ProvisionError extends Error {
  constructor(readonly board: string, readonly step: string, cause: Error) {
    super(`provisioning ${board} failed at step "${step}": ${cause.message}`);
    this.name = 'ProvisionError';
  }
}

export const AGENT_BUNDLE_DIR = join(require.resolve('@synrace/agents/package.json'), '..', 'dist', 'bundle');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

async function uploadTree(shell: SshShell, localDir: string, remoteDir: string): Promise<void> {
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
  if (t.agentConfig) {
    await step('check node on the board', () => run(t.shell, `'${t.node}' --version`));
    await step('upload agent bundle', () => uploadTree(t.shell, AGENT_BUNDLE_DIR, at('opt/synrace')));
    await step('write agent config', () => t.shell.upload(Buffer.from(JSON.stringify(t.agentConfig, null, 2)), at('etc/synrace/agent.json')));
  }
  if (t.web) {
    const web = t.web;
    await step('sync web content', () => uploadTree(t.shell, web.content.dir, at('var/www/synrace')));
    const nginx = renderNginxConfig({ board: t.board, wwwRoot: at('var/www/synrace'), dynamic: web.dynamic, runDir: at('run/synrace') });
    await step('write nginx config', () => t.shell.upload(Buffer.from(nginx), at('etc/synrace/nginx.conf')));
  }
  const services = renderServicesScript({
    board: t.board,
    consoleTty: t.consoleTty,
    ...(t.web ? { nginxConfig: at('etc/synrace/nginx.conf'), nginxErrorLog: at('var/log/synrace/nginx-error.log') } : {}),
    ...(t.agentConfig ? { agent: { node: t.node, script: at('opt/synrace/agent.js'), config: at('etc/synrace/agent.json') } } : {}),
  });
  await step('write services script', () => t.shell.upload(Buffer.from(services), at('etc/synrace/services.sh'), 0o755));
  await step('start services', () => run(t.shell, `'${at('etc/synrace/services.sh')}'`));
}

export function servicesScriptPath(fsRoot: string): string {
  return join(fsRoot, 'etc/synrace/services.sh');
}
