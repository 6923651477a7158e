import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AgentCounters, AgentHealth, ControlReadPath, ControlSwitchName } from './control-api';
import type { TableDump } from '../table/table-dump';

/** What a board's roles expose to the orchestrator; a role leaves out what it cannot do. */
export interface ControlHandlers {
  health(): AgentHealth;
  counters(): AgentCounters;
  table?(): TableDump;
  /** Switches keyed by name (busy, dead, race-mode...), each taking a JSON value and checking it. */
  switches: Partial<Record<ControlSwitchName, (value: unknown) => unknown>>;
}

export interface ControlEndpoint { address: string; port: number; token: string }

export interface ControlServer { close(): Promise<void>; port: number }

function tokenMatches(header: string | undefined, token: string): boolean {
  const offered = Buffer.from(/^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '');
  const expected = Buffer.from(token);
  return offered.length === expected.length && timingSafeEqual(offered, expected);
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body) + '\n');
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 64 * 1024) throw new Error('request body over 64 KiB');
  }
  return text ? JSON.parse(text) : null;
}

/**
 * The agent's control API: HTTP with a bearer token, bound to the management address only, so the
 * lab's data plane (where the race runs) can neither see nor reach it.
 */
export function startControlServer(endpoint: ControlEndpoint, handlers: ControlHandlers): Promise<ControlServer> {
  const server = createServer((req, res) => {
    if (!tokenMatches(req.headers.authorization, endpoint.token)) return reply(res, 401, { error: 'missing or wrong bearer token' });
    const path = (req.url ?? '/').split('?')[0];
    const getters: Record<ControlReadPath, (() => unknown) | undefined> = { '/health': handlers.health, '/counters': handlers.counters, '/table': handlers.table };
    const getter = Object.prototype.hasOwnProperty.call(getters, path) ? getters[path as ControlReadPath] : undefined;
    if (req.method === 'GET' && getter) return reply(res, 200, getter());
    const name = /^\/switch\/([a-z-]+)$/.exec(path)?.[1];
    const handler = name && Object.prototype.hasOwnProperty.call(handlers.switches, name) ? handlers.switches[name as ControlSwitchName] : undefined;
    if (req.method === 'POST' && handler) {
      readJson(req)
        .then((value) => reply(res, 200, handler(value) ?? { ok: true }))
        .catch((err: Error) => reply(res, 400, { error: err.message }));
      return;
    }
    reply(res, 404, { error: `no ${req.method} ${path}`, endpoints: [...Object.keys(getters).filter((k) => getters[k as ControlReadPath]), ...Object.keys(handlers.switches).map((s) => `POST /switch/${s}`)] });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(endpoint.port, endpoint.address, () => {
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : endpoint.port,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}
