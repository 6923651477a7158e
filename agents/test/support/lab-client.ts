// A client host's connection in the protocol lab (protocol-lab.ts's CLIENT_PY), line by line, and the
// readings tests make of an agent's counters.
import { ADDR, CLIENT_PY, type Daemon, type ProtocolLab } from './protocol-lab';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Client {
  daemon: Daemon;
  /** The n-th line the client printed (0-based), waiting for it. */
  line(n: number, timeoutMs?: number): Promise<string>;
  send(text: string): void;
  port: number;
}

export async function connect(lab: ProtocolLab, port: number, server: string = ADDR.origin, timeoutS = 5): Promise<Client> {
  const { daemon, line, send } = startConnecting(lab, port, server, timeoutS);
  const first = await line(0);
  const port0 = /^connected (\d+)/.exec(first);
  return { daemon, line, send, port: port0 ? Number(port0[1]) : -1 };
}

/** A client whose connect may still be under way: its lines as they come (line 0 is `connected`, `refused` or `error`). */
export function startConnecting(lab: ProtocolLab, port: number, server: string = ADDR.origin, timeoutS = 5): Omit<Client, 'port'> {
  const daemon = lab.daemon('client', `client-${port}-${Date.now() % 100000}`, ['python3', '-c', CLIENT_PY, server, String(port), String(timeoutS)]);
  // The client's own timeout plus 10 s for `ip netns exec python3` to start: beside two other lanes (CI66) the
  // client printed nothing, not even its connect timeout, within 2 s over it.
  const line = async (n: number, timeoutMs = (timeoutS + 10) * 1000): Promise<string> => {
    const started = Date.now();
    for (;;) {
      const lines = daemon.output().split('\n').filter((l) => l.length > 0);
      if (lines.length > n) return lines[n];
      if (Date.now() - started > timeoutMs) throw new Error(`client printed no line ${n}: ${daemon.output()}`);
      await sleep(10);
    }
  };
  return { daemon, line, send: (text) => void daemon.child.stdin!.write(`send ${text}\n`) };
}

export function num(counters: Record<string, unknown>, name: string): number {
  return typeof counters[name] === 'number' ? (counters[name] as number) : 0;
}
