#!/usr/bin/env node
/**
 * Inspect what the package computes, without an orchestrator:
 *   netem-profiles predict [--topology T] [--profile P] [--json]
 *   netem-profiles tc <board> [--topology T] [--profile P] [--no-netem] [--device D] [--teardown]
 * T and P are shipped names or paths to .yaml files (default: world).
 * `tc` prints the shell script; the golden files in test/golden are its output.
 */
import { parseArgs } from 'node:util';
import {
  compileTcTeardown,
  compileTcTree,
  formatPredictionTable,
  loadProfile,
  loadTopology,
  predict,
  renderTcScript,
  shippedProfilePath,
  shippedTopologyPath,
} from '../src/index';

const usage = 'usage: netem-profiles predict|tc <board> [--topology T] [--profile P] [--json] [--no-netem] [--device D] [--teardown]';

function resolve(nameOrPath: string, shipped: (name: string) => string): string {
  return nameOrPath.endsWith('.yaml') ? nameOrPath : shipped(nameOrPath);
}

function main(argv: string[]): string {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      topology: { type: 'string', default: 'world' },
      profile: { type: 'string', default: 'world' },
      json: { type: 'boolean', default: false },
      'no-netem': { type: 'boolean', default: false },
      device: { type: 'string' },
      teardown: { type: 'boolean', default: false },
    },
  });
  const [command, board] = positionals;
  const topology = loadTopology(resolve(values.topology, shippedTopologyPath));
  if (command === 'tc' && board) {
    if (values.teardown) return renderTcScript(compileTcTeardown(topology, board, { device: values.device }));
    const profile = loadProfile(resolve(values.profile, shippedProfilePath), topology);
    return renderTcScript(compileTcTree(topology, profile, board, { device: values.device, netem: !values['no-netem'] }));
  }
  if (command === 'predict') {
    const predictions = predict(topology, loadProfile(resolve(values.profile, shippedProfilePath), topology));
    return values.json ? JSON.stringify(predictions, null, 2) + '\n' : formatPredictionTable(predictions);
  }
  throw new Error(usage);
}

try {
  process.stdout.write(main(process.argv.slice(2)));
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exitCode = 1;
}
