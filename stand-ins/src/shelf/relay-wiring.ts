import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { Lab } from '@synrace/orchestrator';
import type { ShelfRelay } from './pi-shelf';

/** A relay switched; `at` is when the orchestrator wrote the GPIO value (ms since the epoch). */
export interface RelaySwitch { board: string; on: boolean; at: number }

/**
 * The wiring between the relay board and the stand-in Pis: it follows the wire levels the fake GPIO
 * sysfs records and powers a board on when its relay closes, off when it opens, one switch at a time
 * per board, as a power supply would follow a relay.
 */
export class RelayWiring {
  readonly switches: RelaySwitch[] = [];
  private readonly pending = new Map<string, Promise<void>>();
  private offset = 0;
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly eventsFile: string, private readonly shelf: Lab, private readonly relays: ShelfRelay[]) {
    this.loop = this.follow();
  }

  private async follow(): Promise<void> {
    while (!this.stopped) {
      const text = await readFile(this.eventsFile, 'utf8').catch(() => '');
      const fresh = text.slice(this.offset);
      const complete = fresh.slice(0, fresh.lastIndexOf('\n') + 1);
      this.offset += complete.length;
      for (const line of complete.split('\n').filter(Boolean)) {
        const event = JSON.parse(line) as { event: string; gpio: number; level?: 0 | 1; at: number };
        const relay = this.relays.find((r) => r.gpio === event.gpio);
        if (event.event === 'level' && relay) this.switchBoard(relay.board, event.level === (relay.activeLow ? 0 : 1), event.at);
      }
      await delay(20);
    }
  }

  /** `at`: when the orchestrator wrote the line's value; the board follows one switch at a time. */
  private switchBoard(board: string, on: boolean, at: number): void {
    const target = this.shelf.state().boards.find((b) => b.name === board)!;
    const driver = this.shelf.backend().power(target);
    const previous = this.pending.get(board) ?? Promise.resolve();
    this.pending.set(
      board,
      previous.then(async () => {
        this.switches.push({ board, on, at });
        await (on ? driver.on() : driver.off()).catch((err: Error) => process.stderr.write(`stand-in ${board} power ${on ? 'on' : 'off'} failed: ${err.message}\n`));
      }),
    );
  }

  /** Finishes the switches under way, then stops following. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await Promise.all(this.pending.values());
  }
}
