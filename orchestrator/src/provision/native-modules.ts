import type { SshShell } from '@synrace/hardware';
import { shellQuote } from '@synrace/hardware';

/** The bundle's native modules, loaded as the agent loads them: from its own node_modules. */
const LOAD_CHECK = `-e "require('epoll'); require('koffi')"`;

/**
 * Makes the agent's native modules load on the board. koffi ships a binary per platform; epoll was
 * compiled on this host, so a board of another architecture (a Pi provisioned from a PC) compiles it
 * itself from the sources in the bundle, with the node-gyp that comes with npm and the headers of its
 * own Node. Returns whether it had to.
 */
export async function ensureNativeModules(shell: SshShell, node: string, agentDir: string, timeScale = 1): Promise<'as-bundled' | 'built-on-board'> {
  const check = () => shell.exec(`cd ${shellQuote(agentDir)} && ${shellQuote(node)} ${LOAD_CHECK} 2>&1`, { timeoutMs: 30_000 * timeScale });
  const first = await check();
  if (first.code === 0) return 'as-bundled';
  const build = await shell.exec(buildScript(node, `${agentDir}/node_modules/epoll`), { timeoutMs: 300_000 * timeScale });
  if (build.code !== 0) {
    throw new Error(`the agent's native modules do not load on the board (${lastLine(first.stdout)}), and compiling epoll there failed: ${build.stderr.trim() || build.stdout.trim().split('\n').slice(-8).join('\n')}`);
  }
  const again = await check();
  if (again.code !== 0) throw new Error(`epoll was compiled on the board but still does not load: ${lastLine(again.stdout)}`);
  return 'built-on-board';
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter((l) => /Error|error:/.test(l))[0] ?? text.trim().split('\n').pop() ?? '';
}

function buildScript(node: string, epollDir: string): string {
  return `set -e
cd ${shellQuote(epollDir)}
for tool in make g++; do command -v $tool >/dev/null || { echo "no $tool on the board to compile epoll: apt install build-essential" >&2; exit 1; }; done
gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
[ -f "$gyp" ] || { echo "no node-gyp on the board (it comes with npm): install npm" >&2; exit 1; }
# The headers of the board's own Node, so node-gyp downloads nothing.
nodedir="$(dirname "$(dirname "$(readlink -f ${shellQuote(node)})")")"
[ -f "$nodedir/include/node/node.h" ] || { echo "no Node headers in $nodedir/include/node (NodeSource's nodejs package has them)" >&2; exit 1; }
export PATH="$(dirname ${shellQuote(node)}):$PATH"
[ -x /usr/bin/python3 ] && export PYTHON=/usr/bin/python3
${shellQuote(node)} "$gyp" rebuild --nodedir="$nodedir" >build.log 2>&1 || { tail -n 15 build.log >&2; exit 1; }
`;
}
