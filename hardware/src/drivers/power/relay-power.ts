import { Gpio, type BinaryValue } from 'onoff';
import type { PowerRelayResource } from '../../resources';
import { sysfsGpioNumber } from './gpio-numbering';
import { powerCycle } from './power-cycle';
import type { PowerDriver } from './power-driver';

export interface RelayPowerOptions {
  /** The board the relay powers, named in errors. */
  board: string;
}

/**
 * Power through a relay on a GPIO line (sysfs, via onoff).
 *
 * Polarity is handled here, not with the kernel's active_low attribute: the
 * line is opened with active_low 0, so what is written to `value` is the wire
 * level the relay sees, and a line left inverted by another tool is reset.
 *
 * The line is opened on first use. If it is already an output (an earlier
 * run left the board powered) its level is kept, so asking isOn() never
 * switches a board; otherwise it becomes an output at the "off" level in one
 * write ("high"/"low" to direction), without the low glitch that "out" gives,
 * which an active-low relay would take for "on".
 */
export class RelayPowerDriver implements PowerDriver {
  private line?: Promise<{ gpio: Gpio; number: number }>;

  constructor(
    readonly relay: PowerRelayResource,
    private readonly options: RelayPowerOptions,
  ) {}

  async on(): Promise<void> {
    await this.drive(true);
  }

  async off(): Promise<void> {
    await this.drive(false);
  }

  async isOn(): Promise<boolean> {
    const { gpio, number } = await this.open();
    const level = await gpio.read().catch((err: Error) => {
      throw this.error(`cannot read gpio${number}`, err);
    });
    return level === this.levelFor(true);
  }

  cycle(settleMs: number, signal?: AbortSignal): Promise<void> {
    return powerCycle(this, settleMs, signal);
  }

  /**
   * Unexports the line. The kernel may then return the pin to an input, which
   * leaves the relay to its own pull-up or pull-down: close when the board's
   * power no longer matters, or leave the line exported.
   */
  async close(): Promise<void> {
    const line = this.line;
    this.line = undefined;
    if (line === undefined) return;
    const { gpio } = await line.catch(() => ({ gpio: undefined }));
    gpio?.unexport();
  }

  private async drive(powered: boolean): Promise<void> {
    const { gpio, number } = await this.open();
    await gpio.write(this.levelFor(powered)).catch((err: Error) => {
      throw this.error(`cannot switch ${powered ? 'on' : 'off'} (gpio${number})`, err);
    });
  }

  private levelFor(powered: boolean): BinaryValue {
    return powered !== this.relay.activeLow ? 1 : 0;
  }

  private open(): Promise<{ gpio: Gpio; number: number }> {
    this.line ??= this.exportLine().catch((err: Error) => {
      this.line = undefined;
      throw err;
    });
    return this.line;
  }

  private async exportLine(): Promise<{ gpio: Gpio; number: number }> {
    const number = await sysfsGpioNumber(this.relay.bcmPin).catch((err: Error) => {
      throw this.error('cannot find its GPIO line', err);
    });
    const offDirection = this.levelFor(false) === 1 ? 'high' : 'low';
    try {
      return { gpio: new Gpio(number, offDirection, undefined, { activeLow: false, reconfigureDirection: false }), number };
    } catch (err) {
      throw this.error(`cannot export gpio${number}`, err as Error);
    }
  }

  private error(what: string, cause: Error): Error {
    return new Error(`power relay of ${this.options.board} (BCM ${this.relay.bcmPin}): ${what}: ${cause.message}`, { cause });
  }
}
