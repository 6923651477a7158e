import { request } from 'node:http';
import { CONTROL_PORT } from './provision/agent-config';

/** A board agent's control API, as the orchestrator reaches it over the management network. */
export class AgentControl {
  constructor(readonly board: string, readonly address: string, private readonly token: string) {}

  get<T>(path: string, timeoutMs = 3000): Promise<T> {
    return this.call('GET', path, undefined, timeoutMs);
  }

  post<T>(path: string, value: unknown, timeoutMs = 3000): Promise<T> {
    return this.call('POST', path, value, timeoutMs);
  }

  private call<T>(method: string, path: string, value: unknown, timeoutMs: number): Promise<T> {
    const body = value === undefined ? undefined : JSON.stringify(value);
    return new Promise((resolve, reject) => {
      const req = request(
        { host: this.address, port: CONTROL_PORT, path, method, timeout: timeoutMs, headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => {
            if (res.statusCode !== 200) return reject(new Error(`agent on ${this.board}: ${method} ${path} answered ${res.statusCode}: ${text.trim()}`));
            resolve(JSON.parse(text) as T);
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`agent on ${this.board}: ${method} ${path} timed out after ${timeoutMs} ms`)));
      req.on('error', (err) => reject(new Error(`agent on ${this.board} (${this.address}:${CONTROL_PORT}): ${err.message}`)));
      req.end(body);
    });
  }

  /** Polls /health until the agent answers: the last step of a board's provisioning. */
  async waitHealthy(timeoutMs: number): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.get('/health', 1000);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}
