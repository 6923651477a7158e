import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AGENT_BUNDLE_DIR, type BoardConfigFile } from '@synrace/agents';
import { shellQuote, type SshShell } from '@synrace/hardware';
import { extractOnBoard, tarOf } from './tar-stream';
import { renderNginxConfig } from './nginx-config';
import { renderServicesScript } from './services-script';
import { AGENT_UNIT, UNIT_DIR, WEB_UNIT, renderAgentUnit, renderWebUnit } from './systemd-units';
import { WEB_ROOT, type WebContent } from './web-content';

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
  /**
   * How many times longer than a Pi's each command may take on this board: an emulated CPU (QEMU's TCG)
   * runs the same work some ten times slower. 1 when absent.
   */
  timeScale?: number;
  /** Told of each step done, with its time: a slow board's provisioning shows its progress. */
  onStep?: (step: string, ms: number) => void;
}

/** The agent's config below the board's root. */
const AGENT_CONFIG = 'etc/synrace/agent.json';

/** Where provisioning puts the web server's files, below the board's root. */
const NGINX_CONFIG = 'etc/synrace/nginx.conf';
const NGINX_ERROR_LOG = 'var/log/synrace/nginx-error.log';
const NGINX_PID = 'run/synrace/nginx.pid';
const AGENT_SUPERVISOR_PID = 'run/synrace/agent-supervisor.pid';

/** Where provisioned files go on a board and how its services start: the backend decides. */
export type BoardLayout = Pick<ProvisionTarget, 'fsRoot' | 'init' | 'timeScale'>;

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

async function run(shell: SshShell, command: string, timeScale = 1): Promise<string> {
  const result = await shell.exec(command, { timeoutMs: 60_000 * timeScale });
  if (result.code !== 0) {
    const shown = command.includes('\n') ? `${command.split('\n')[0]} ...` : command;
    throw new Error(`${result.stderr.trim() || result.stdout.trim()} (\`${shown}\` exited ${result.code})`);
  }
  return result.stdout;
}

/** The koffi build each machine architecture (`uname -m`) loads; the bundle carries them all. */
const KOFFI_BUILDS: Record<string, string> = { x86_64: 'linux_x64', aarch64: 'linux_arm64', armv7l: 'linux_armhf', armv6l: 'linux_armhf' };

/** The bundle for one architecture: the other architectures' koffi builds stay home. */
const bundleTars = new Map<string, Promise<Buffer>>();
function bundleTar(arch: string): Promise<Buffer> {
  const keep = KOFFI_BUILDS[arch];
  const exclude = [...new Set(Object.values(KOFFI_BUILDS))].filter((b) => b !== keep).map((b) => `node_modules/koffi/build/koffi/${b}`);
  if (!bundleTars.has(arch)) bundleTars.set(arch, tarOf(AGENT_BUNDLE_DIR, 'opt/synrace/', exclude));
  return bundleTars.get(arch)!;
}

/** What one look at the board found. */
interface BoardFacts {
  arch: string;
  node: string;
  nginx: string;
}

/** One round trip: the board's architecture, its Node (an agent needs 20 or newer), its nginx (a web server under systemd). */
async function inspectBoard(t: ProvisionTarget): Promise<BoardFacts> {
  const lines = ['echo "arch=$(uname -m)"'];
  if (t.agentConfig) {
    const node = t.init.kind === 'boot-script' ? shellQuote(t.init.node) : '"$(command -v node)"';
    const missing = t.init.kind === 'boot-script' ? `no node at ${t.init.node}` : `no node in PATH: install Node.js ${MIN_NODE_MAJOR} (e.g. from NodeSource)`;
    lines.push(`node=${node}`, `[ -x "$node" ] || { echo ${shellQuote(missing)} >&2; exit 1; }`, 'echo "node=$node"', `echo "version=$("$node" -p process.version)"`);
  }
  if (t.web && t.init.kind === 'systemd') lines.push('nginx="$(command -v nginx)" || { echo "no nginx: apt install nginx-light on the board" >&2; exit 1; }', 'echo "nginx=$nginx"');
  const facts = Object.fromEntries((await run(t.shell, lines.join('\n'), t.timeScale)).trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const version = facts.version ?? '';
  if (t.agentConfig && nodeMajor(version) < MIN_NODE_MAJOR) throw new Error(`${facts.node} is ${version}; the agent needs Node ${MIN_NODE_MAJOR} or newer`);
  if (t.agentConfig && !KOFFI_BUILDS[facts.arch]) throw new Error(`the agent has no koffi build for a ${facts.arch} board (it has: ${Object.keys(KOFFI_BUILDS).join(', ')})`);
  return { arch: facts.arch, node: facts.node ?? '', nginx: facts.nginx ?? '' };
}

/**
 * Provisions a board over SSH as on real hardware, in three round trips: a look at the board; every file it
 * gets (agent bundle and config, web content, nginx config, its services) as one tar stream; its services
 * started. Each failure names the board and step.
 */
export async function provisionBoard(t: ProvisionTarget): Promise<void> {
  const at = (path: string) => join(t.fsRoot, path);
  const step = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      const result = await work();
      t.onStep?.(name, Date.now() - started);
      return result;
    } catch (err) {
      throw new ProvisionError(t.board, name, err as Error);
    }
  };
  const board = await step('check the board', () => inspectBoard(t));
  const files = new Map<string, { text: string; mode: number }>();
  const archives: Promise<Buffer>[] = [];
  if (t.agentConfig) {
    archives.push(bundleTar(board.arch));
    // It holds the board's control token: readable by root alone.
    files.set(AGENT_CONFIG, { text: JSON.stringify(t.agentConfig, null, 2), mode: 0o600 });
  }
  if (t.web) {
    archives.push(t.web.content.tar);
    files.set(NGINX_CONFIG, { text: renderNginxConfig({ board: t.board, wwwRoot: at(WEB_ROOT), dynamic: t.web.dynamic, runDir: at('run/synrace') }), mode: 0o644 });
  }
  const units = t.init.kind === 'systemd' ? systemdUnits(t, board) : [];
  for (const unit of units) files.set(`${UNIT_DIR.slice(1)}/${unit.name}`, { text: unit.text, mode: 0o644 });
  if (t.init.kind === 'boot-script') {
    const services = renderServicesScript({
      board: t.board,
      consoleTty: t.init.consoleTty,
      ...(t.web ? { web: { config: at(NGINX_CONFIG), errorLog: at(NGINX_ERROR_LOG), pidFile: at(NGINX_PID) } } : {}),
      ...(t.agentConfig ? { agent: { node: board.node, script: at('opt/synrace/agent.js'), config: at(AGENT_CONFIG), pidFile: at(AGENT_SUPERVISOR_PID) } } : {}),
    });
    files.set('etc/synrace/services.sh', { text: services, mode: 0o755 });
  }
  await step('copy files', async () => extractOnBoard(t.shell, t.fsRoot, [...(await Promise.all(archives)), await tarOfFiles(files)], t.timeScale));
  if (t.init.kind === 'boot-script') await step('start services', () => run(t.shell, shellQuote(at('etc/synrace/services.sh')), t.timeScale));
  // restart, not start: a board provisioned before runs the old agent, which must read the new config.
  else if (units.length) await step('enable and start units', () => run(t.shell, `systemctl daemon-reload && systemctl enable ${units.map((u) => u.name).join(' ')} && systemctl restart ${units.map((u) => u.name).join(' ')}`, t.timeScale));
}

/**
 * Replaces a provisioned board's agent config in one rename, on the disk before it returns, so that the agent's
 * next start (a supervisor's restart, a power cycle) reads what the lab has since changed live; the running
 * agent is left alone.
 */
export async function writeAgentConfig(shell: SshShell, layout: BoardLayout, config: BoardConfigFile): Promise<void> {
  const path = shellQuote(join(layout.fsRoot, AGENT_CONFIG));
  const result = await shell.exec(`umask 077 && cat > ${path}.new && sync ${path}.new && mv ${path}.new ${path} && sync -f ${path}`, { timeoutMs: 60_000, input: Buffer.from(JSON.stringify(config, null, 2)) });
  if (result.code !== 0) throw new Error(`rewriting ${AGENT_CONFIG}: ${result.stderr.trim()} (exit ${result.code})`);
}

/** A few generated files, and the directories they need (a fresh board has no var/log/synrace or run/synrace yet), as one tar. */
async function tarOfFiles(files: Map<string, { text: string; mode: number }>): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'synrace-provision-'));
  try {
    for (const d of ['etc/synrace', 'var/log/synrace', 'run/synrace']) mkdirSync(join(dir, d), { recursive: true });
    for (const [path, f] of files) {
      mkdirSync(join(dir, dirname(path)), { recursive: true });
      writeFileSync(join(dir, path), f.text, { mode: f.mode });
    }
    return await tarOf(dir, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A Pi's services are systemd units, enabled so that every boot starts them again. */
function systemdUnits(t: ProvisionTarget, board: BoardFacts): { name: string; text: string }[] {
  const units: { name: string; text: string }[] = [];
  if (t.web) units.push({ name: WEB_UNIT, text: renderWebUnit({ board: t.board, nginx: board.nginx, nginxConfig: `/${NGINX_CONFIG}`, nginxErrorLog: `/${NGINX_ERROR_LOG}`, pidFile: `/${NGINX_PID}` }) });
  if (t.agentConfig) units.push({ name: AGENT_UNIT, text: renderAgentUnit({ board: t.board, node: board.node, script: '/opt/synrace/agent.js', config: `/${AGENT_CONFIG}` }) });
  return units;
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
