import { WEB_PORTS, type Lab } from '@synrace/orchestrator';
import { onBoard } from './board-command';
import { webRootOf } from './web-root';

/**
 * Not a web port: gateways leave its packets to kernel forwarding and the switch does not race its SYNs,
 * so a connection to it measures the bare path, the oracle the race is compared with.
 */
export const PLAIN_PORT = 8000;

async function startHttpListener(lab: Lab, board: string, port: number): Promise<() => Promise<void>> {
  if (WEB_PORTS.includes(port)) throw new Error(`port ${port} is a web port: the agents would handle it`);
  // Its own session, so it outlives the SSH session that started it. The system python: a login shell's
  // PATH may put a version manager's shim first, which starts too slowly.
  const pid = (
    await onBoard(
      lab,
      board,
      `setsid /usr/bin/python3 -m http.server ${port} --directory ${webRootOf(lab, board)} </dev/null >/dev/null 2>&1 & echo $!
       for i in $(seq 50); do ss -Hltn 'sport = :${port}' | grep -q . && exit 0; sleep 0.1; done
       echo 'http.server did not start listening on port ${port}' >&2; exit 1`,
    )
  ).trim();
  // Boards share the host's process table: the listener is stopped by its pid, never by name.
  return async () => {
    await onBoard(lab, board, `kill ${pid}`);
  };
}

/** Serves each board's web root on port (Python's http.server) while work runs. */
export async function withHttpListeners<T>(lab: Lab, boards: string[], port: number, work: () => Promise<T>): Promise<T> {
  const started = await Promise.allSettled(boards.map((board) => startHttpListener(lab, board, port)));
  try {
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return await work();
  } finally {
    await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value() : undefined)));
  }
}
