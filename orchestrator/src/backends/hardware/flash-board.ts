import { readFileSync } from 'node:fs';
import { flash, type FlashSummary, type ProgressListener } from '@synrace/hardware';
import type { Inventory, InventoryBoard } from '@synrace/netem-profiles';
import { expandHome } from './doctor';

export function inventoryBoard(inventory: Inventory, name: string): InventoryBoard {
  const board = inventory.boards.find((b) => b.name === name || b.plays === name);
  if (!board) throw new Error(`no board "${name}" in inventory ${inventory.source} (boards: ${inventory.boards.map((b) => `${b.name} (${b.plays})`).join(', ')})`);
  return board;
}

/**
 * Writes an image to a board's SD card and customises its first boot from the inventory: the hostname
 * is the topology board it plays, login is the inventory's user with the lab key, and the management
 * address is static, so the orchestrator finds the board where the inventory says.
 */
export async function flashBoard(inventory: Inventory, name: string, image: string, onProgress?: ProgressListener): Promise<FlashSummary> {
  const board = inventoryBoard(inventory, name);
  if (!board.sdCard) throw new Error(`inventory board ${board.name} names no sdCard.device to flash`);
  if (!board.management) throw new Error(`inventory board ${board.name} has no management.address: the flasher could not give it a static address`);
  const publicKeyFile = `${expandHome(board.ssh.key)}.pub`;
  let publicKey: string;
  try {
    publicKey = readFileSync(publicKeyFile, 'utf8').trim();
  } catch (err) {
    throw new Error(`cannot read the lab's public key ${publicKeyFile} for ${board.name}: ${(err as Error).message}`);
  }
  return flash({
    image,
    card: board.sdCard,
    firstBoot: {
      hostname: board.plays,
      user: board.ssh.user,
      authorizedKeys: [publicKey],
      management: { address: board.management.address, ...(board.management.gateway ? { gateway: board.management.gateway } : {}) },
    },
    onProgress,
  });
}
