import { setTimeout as delay } from 'node:timers/promises';
import { ipBatch, run } from '../host-command';
import { killNetnsProcesses, linksOf } from './netns';

/** What a virtual board has: its namespaces and the boot script that plays its OS start-up. */
export interface NetnsBoardResource {
  name: string;
  netns: string;
  /** A bind-mounted UTS namespace file, so the board keeps its own hostname across power cycles. */
  utsFile: string;
  bootScript: string;
}

/**
 * Power for a board that is a network namespace: off cuts it like a relay would (every process killed,
 * every link down), on replays its boot, which brings links, addresses, sshd and the console shell back.
 */
export class NetnsPowerDriver {
  constructor(readonly board: NetnsBoardResource) {}

  async on(): Promise<void> {
    await run(['nsenter', `--net=/run/netns/${this.board.netns}`, `--uts=${this.board.utsFile}`, 'bash', this.board.bootScript], { timeoutMs: 20_000 });
  }

  async off(): Promise<void> {
    await killNetnsProcesses(this.board.netns);
    const links = await linksOf(this.board.netns);
    await ipBatch(links.map((l) => `link set ${l.ifname} down`), this.board.netns);
  }

  async isOn(): Promise<boolean> {
    return (await linksOf(this.board.netns)).some((l) => l.up);
  }

  async cycle(settleMs: number, signal?: AbortSignal): Promise<void> {
    await this.off();
    await delay(settleMs, undefined, { signal });
    await this.on();
  }
}
