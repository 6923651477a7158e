import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HARDWARE_COMMANDS, LAB_COMMANDS, usageText, type CommandHelp } from '../src/cli/commands';
import { REPO_ROOT } from '../src/labs/run-folders';

/** A command table of the README as it must read: one row per command, pipes escaped in the synopsis. */
function tableOf(commands: CommandHelp[]): string {
  return ['| command | what it does |', '|---|---|', ...commands.map((c) => `| \`${c.synopsis.replaceAll('|', '\\|')}\` | ${c.does} |`)].join('\n');
}

describe('the command table', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

  it('is what the README shows for the lab commands and the hardware commands, word for word', () => {
    assert.ok(readme.includes(tableOf(LAB_COMMANDS)), `the README's lab command table differs from orchestrator/src/cli/commands.ts; it should read:\n${tableOf(LAB_COMMANDS)}`);
    assert.ok(readme.includes(tableOf(HARDWARE_COMMANDS)), `the README's hardware command table differs from orchestrator/src/cli/commands.ts; it should read:\n${tableOf(HARDWARE_COMMANDS)}`);
  });

  it('is what `synrace --help` shows', () => {
    for (const c of [...LAB_COMMANDS, ...HARDWARE_COMMANDS]) assert.ok(usageText().includes(`  ${c.synopsis}\n`), c.synopsis);
  });

  it('points nowhere outside the repository', () => {
    assert.doesNotMatch(readme, /\.\.\/shared/);
    for (const doc of ['docs/protocol.md', 'docs/architecture.md', 'docs/decisions.md']) assert.ok(readme.includes(doc), doc);
  });
});
