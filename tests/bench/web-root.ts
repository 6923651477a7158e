import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { boardFsRoot, type Lab } from '@synrace/orchestrator';

/** Where a board's nginx serves from, read from the config provisioning wrote, so bench files land exactly there. */
export function webRootOf(lab: Lab, board: string): string {
  const configFile = join(boardFsRoot(lab.runDir, board), 'etc/synrace/nginx.conf');
  const root = /^\s*root\s+([^;\s]+);/m.exec(readFileSync(configFile, 'utf8'))?.[1];
  if (!root) throw new Error(`${configFile} names no web root`);
  return root;
}
