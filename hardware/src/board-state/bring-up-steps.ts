import { stat } from 'node:fs/promises';
import { waitForConsole } from '../drivers/console-client';
import type { PowerDriver } from '../drivers/power/power-driver';
import { SshShell } from '../drivers/ssh-shell';
import type { SshEndpoint } from '../resources';
import type { BringUpSteps, StepContext } from './board-state-machine';

export interface BoardAccess {
  power: Pick<PowerDriver, 'on'>;
  /** The board's console log, as the console server writes it. */
  consoleLog: string;
  /** A line the board prints once it has booted, e.g. its login prompt. */
  bootMarker: RegExp;
  ssh: SshEndpoint;
  /**
   * A board that prints its host key on its console (a freshly flashed QEMU board): the key SSH must present,
   * read from this boot's part of the log (from byte `since`), in place of ssh.hostKey.
   */
  hostKeyFromConsole?: (since: number) => Promise<string>;
  /** Limit of one SSH connection attempt; attempts repeat until the step's timeout. */
  sshAttemptMs: number;
  /**
   * Provisioning belongs to the orchestrator: it holds the configs and the agents' API. It gets the SSH
   * shell that proved the board reachable: one login per board for its whole bring-up.
   */
  provision: (context: StepContext & { shell: SshShell }) => Promise<void>;
}

/** The bring-up steps of a board with a power switch, a logged console and sshd: relay and netns boards alike. */
export function bringUpSteps(access: BoardAccess): BringUpSteps {
  // Where the log ended before power-on: the marker must come from this boot,
  // yet may be printed before waitForBoot starts looking.
  let logSizeAtPowerOn = 0;
  let shell: SshShell | undefined;
  return {
    powerOn: async () => {
      logSizeAtPowerOn = (await stat(access.consoleLog).catch(() => undefined))?.size ?? 0;
      await access.power.on();
    },
    waitForBoot: async ({ timeoutMs }) => {
      await waitForConsole(access.consoleLog, access.bootMarker, timeoutMs, { since: logSizeAtPowerOn });
    },
    waitForSsh: async ({ timeoutMs }) => {
      const hostKey = access.hostKeyFromConsole ? await access.hostKeyFromConsole(logSizeAtPowerOn) : access.ssh.hostKey;
      shell = await SshShell.connect({ ...access.ssh, hostKey }, { timeoutMs: Math.min(access.sshAttemptMs, timeoutMs), retryUntilMs: timeoutMs });
    },
    provision: async (context) => {
      const reached = shell!;
      try {
        await access.provision({ ...context, shell: reached });
      } finally {
        reached.close();
      }
    },
  };
}
