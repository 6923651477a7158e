import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The board operations a capture needs; both a Lab and a hardware board shell offer them. */
export interface CaptureHost {
  exec(board: string, command: string, timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
  download(board: string, remotePath: string): Promise<Buffer>;
}

export interface RunningCapture {
  /** Stops tcpdump on the board and copies the pcap to localPath; returns that path. */
  stop(): Promise<string>;
}

/**
 * A packet capture on a board's interface with the board's own tcpdump, in immediate mode and written unbuffered (-U) so that
 * stopping it loses nothing; the pcap is readable by tcpdump and Wireshark.
 */
export async function startCapture(host: CaptureHost, board: string, ifname: string, localDir: string, filter = ''): Promise<RunningCapture> {
  // This process's id too: namespace boards share the host's /tmp, and boards of labs side by side share names.
  const remote = `/tmp/synrace-capture-${board}-${ifname}-${process.pid}-${Date.now()}.pcap`;
  // tcpdump writes the pcap header only once its socket is attached: until then, packets would be missed.
  const { stdout, code, stderr } = await host.exec(
    board,
    `setsid -f sh -c 'echo $$ > ${remote}.pid; exec tcpdump -i ${ifname} --immediate-mode -U -s 256 -w ${remote} ${filter} 2>${remote}.err >/dev/null'; ` +
      `for i in $(seq 100); do [ -s ${remote} ] && break; sleep 0.05; done; [ -s ${remote} ] || { cat ${remote}.err >&2; exit 1; }; cat ${remote}.pid`,
  );
  const pid = Number(stdout.trim());
  if (code !== 0 || !pid) throw new Error(`capture on ${board} ${ifname} did not start: ${stderr.trim() || stdout.trim()}`);
  return {
    async stop() {
      await host.exec(board, `kill -INT ${pid}; for i in $(seq 50); do kill -0 ${pid} 2>/dev/null || break; sleep 0.05; done`);
      const pcap = await host.download(board, remote);
      await host.exec(board, `rm -f ${remote} ${remote}.pid ${remote}.err`);
      mkdirSync(localDir, { recursive: true });
      const localPath = join(localDir, `${board}-${ifname}.pcap`);
      writeFileSync(localPath, pcap);
      return localPath;
    },
  };
}
