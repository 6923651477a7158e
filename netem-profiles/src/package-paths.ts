import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The package root, found by walking up to package.json so that the same code
 * works from src/ (ts-node, editors) and from dist/src/ (the build).
 */
function findPackageDir(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`netem-profiles: no package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

export const packageDir = findPackageDir();

const labsDir = join(packageDir, 'labs');
const profilesDir = join(packageDir, 'profiles');
const inventoriesDir = join(packageDir, 'inventories');

function shippedPath(dir: string, kind: string, name: string): string {
  const file = join(dir, `${name}.yaml`);
  if (!existsSync(file)) {
    throw new Error(`no shipped ${kind} "${name}" (have: ${listYamlNames(dir).join(', ')})`);
  }
  return file;
}

function listYamlNames(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

export function shippedTopologyPath(name: string): string {
  return shippedPath(labsDir, 'topology', name);
}

export function shippedProfilePath(name: string): string {
  return shippedPath(profilesDir, 'profile', name);
}

/** An example hardware inventory, as a template for a real shelf. */
export function shippedInventoryPath(name: string): string {
  return shippedPath(inventoriesDir, 'inventory', name);
}

export function listShippedTopologies(): string[] {
  return listYamlNames(labsDir);
}

export function listShippedProfiles(): string[] {
  return listYamlNames(profilesDir);
}
