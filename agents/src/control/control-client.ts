// The orchestrator's side of a board agent's control API (over the management network).
import { request } from 'node:http';
import { switchPath, type AgentCounters, type AgentHealth, type ControlReadPath, type ControlReads, type ControlSwitches, type ControlSwitchName } from './control-api';
import type { TableDump } from '../table/table-dump';
import type { WinnerCacheDump } from '../table/winner-cache';
import type { RaceMode } from '../race-mode';

export interface ControlClientEndpoint {
  board: string;
  address: string;
  port: number;
  token: string;
}

export class AgentControlClient {
  constructor(private readonly endpoint: ControlClientEndpoint) {}

  get board(): string {
    return this.endpoint.board;
  }

  health(timeoutMs?: number): Promise<AgentHealth> {
    return this.read('/health', timeoutMs);
  }

  counters(timeoutMs?: number): Promise<AgentCounters> {
    return this.read('/counters', timeoutMs);
  }

  table(timeoutMs?: number): Promise<TableDump> {
    return this.read('/table', timeoutMs);
  }

  /** The client gateway's winner cache (on or off, its entries); undefined on a board without one. */
  async winnerCache(timeoutMs?: number): Promise<WinnerCacheDump | undefined> {
    const gateway = (await this.counters(timeoutMs))['client-gateway'] as { winnerCache?: WinnerCacheDump } | undefined;
    return gateway?.winnerCache;
  }

  setRaceMode(mode: RaceMode): Promise<unknown> {
    return this.flip('race-mode', mode);
  }

  /** The switch's synchronized holds by candidate address; the bounded race's follow from them. */
  setHolds(holds: Record<string, number>): Promise<unknown> {
    return this.flip('holds', holds);
  }

  setBusy(on: boolean): Promise<unknown> {
    return this.flip('busy', on);
  }

  setDead(on: boolean): Promise<unknown> {
    return this.flip('dead', on);
  }

  setWinnerCache(on: boolean): Promise<unknown> {
    return this.flip('winner-cache', on);
  }

  setKernelPath(on: boolean): Promise<unknown> {
    return this.flip('kernel-path', on);
  }

  /** Polls /health until the agent answers: the last step of a board's provisioning. */
  async waitHealthy(timeoutMs: number): Promise<AgentHealth> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.health(1000);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  read<P extends ControlReadPath>(path: P, timeoutMs = 3000): Promise<ControlReads[P]> {
    return this.call('GET', path, undefined, timeoutMs);
  }

  flip<S extends ControlSwitchName>(name: S, value: ControlSwitches[S], timeoutMs = 3000): Promise<unknown> {
    return this.call('POST', switchPath(name), value, timeoutMs);
  }

  private call<T>(method: string, path: string, value: unknown, timeoutMs: number): Promise<T> {
    const { board, address, port, token } = this.endpoint;
    const body = value === undefined ? undefined : JSON.stringify(value);
    return new Promise((resolve, reject) => {
      // A connection of its own (agent: false): Node 20's global agent keeps sockets alive, and one the
      // agent's server closes after its 5 s keep-alive just as a call reuses it fails as "socket hang up"
      // (seen after an ab run of about 5 s between two counter reads).
      const req = request({ host: address, port, path, method, agent: false, timeout: timeoutMs, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`agent on ${board}: ${method} ${path} answered ${res.statusCode}: ${text.trim()}`));
          resolve(JSON.parse(text) as T);
        });
      });
      req.on('timeout', () => req.destroy(new Error(`agent on ${board}: ${method} ${path} timed out after ${timeoutMs} ms`)));
      req.on('error', (err) => reject(new Error(`agent on ${board} (${address}:${port}): ${err.message}`)));
      req.end(body);
    });
  }
}
