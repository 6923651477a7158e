import { readFileSync } from 'node:fs';
import { flash, flashBoardDisk, type FlashSummary, type ProgressListener } from '@synrace/hardware';
import type { Inventory, InventoryBoard } from '@synrace/netem-profiles';
import { expandHome } from './doctor';

export function inventoryBoard(inventory: Inventory, name: string): InventoryBoard {
  const board = inventory.boards.find((b) => b.name === name || b.plays === name);
  if (!board) throw new Error(`no board "${name}" in inventory ${inventory.source} (boards: ${inventory.boards.map((b) => `${b.name} (${b.plays})`).join(', ')})`);
  return board;
}

/**
 * Writes an image to a board's SD card (or a QEMU board's disk file) and customises its first boot from the
 * inventory: the hostname is the topology board it plays, login is the inventory's user with the lab key,
 * and the management address is static, so the orchestrator finds the board where the inventory says.
 */
/** What was flashed: a card's summary, or a disk file's, which has no device guard. */
export type FlashedBoard = Omit<FlashSummary, 'guard'> & Partial<Pick<FlashSummary, 'guard'>>;

export async function flashBoard(inventory: Inventory, name: string, image: string, onProgress?: ProgressListener): Promise<FlashedBoard> {
  const board = inventoryBoard(inventory, name);
  if (!board.sdCard && !board.disk) throw new Error(`inventory board ${board.name} names no sdCard.device or disk.file to flash`);
  if (!board.management) throw new Error(`inventory board ${board.name} has no management.address: the flasher could not give it a static address`);
  const publicKeyFile = `${expandHome(board.ssh.key)}.pub`;
  let publicKey: string;
  try {
    publicKey = readFileSync(publicKeyFile, 'utf8').trim();
  } catch (err) {
    throw new Error(`cannot read the lab's public key ${publicKeyFile} for ${board.name}: ${(err as Error).message}`);
  }
  const firstBoot = {
    hostname: board.plays,
    user: board.ssh.user,
    authorizedKeys: [publicKey],
    management: { address: board.management.address, ...(board.management.gateway ? { gateway: board.management.gateway } : {}) },
  };
  if (board.disk) {
    const written = await flashBoardDisk({ image, disk: board.disk.file, firstBoot, onProgress });
    return { device: board.disk.file, image, bytes: written.bytes, seconds: written.seconds, megabytesPerSecond: written.bytes / 1e6 / written.seconds, sha256: written.sha256, bootFiles: written.bootFiles };
  }
  return flash({ image, card: board.sdCard!, firstBoot, onProgress });
}
