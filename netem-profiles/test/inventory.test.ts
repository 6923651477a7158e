import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadInventory, loadTopology, shippedTopologyPath } from '../src';

const EXAMPLE = join(__dirname, '..', '..', 'inventories', 'example-world.yaml');

describe('hardware inventory', () => {
  const world = loadTopology(shippedTopologyPath('world'));
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'synrace-inventory-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** The example with one line changed, written to a temp file; returns its path and the changed line's number. */
  function variant(find: RegExp, replace: string): { file: string; line: number } {
    const lines = readFileSync(EXAMPLE, 'utf8').split('\n');
    const at = lines.findIndex((l) => find.test(l));
    assert.ok(at >= 0, `the example has a line matching ${find}`);
    lines[at] = lines[at].replace(find, replace);
    const file = join(dir, 'inv.yaml');
    writeFileSync(file, lines.join('\n'));
    return { file, line: at + 1 };
  }

  it('loads the shipped example against the world topology, with defaults applied', () => {
    const inv = loadInventory(EXAMPLE, world);
    assert.equal(inv.boards.length, 2);
    const pi1 = inv.boards[0];
    assert.deepEqual([pi1.plays, pi1.serial.baudRate, pi1.ssh.user, pi1.ssh.port, pi1.relay.activeLow], ['nyc-gw', 115200, 'synrace', 22, true]);
    assert.equal(inv.boards[1].sdCard, undefined);
  });

  it("takes a QEMU board's disk file where a Pi has its SD card", () => {
    const { file } = variant(/sdCard: \{ device: \S+, serial: "000000000001" \}/, 'disk: { file: /var/lib/boards/pi-01.img }');
    assert.deepEqual(loadInventory(file, world).boards[0].disk, { file: '/var/lib/boards/pi-01.img' });
    const both = variant(/sdCard: \{ device: (\S+), serial: "000000000001" \}/, 'sdCard: { device: $1 }\n    disk: { file: /var/lib/boards/pi-01.img }');
    assert.throws(() => loadInventory(both.file, world), new RegExp(`:${both.line + 1}: boards\\[0\\]\\.disk: a board is flashed to an SD card or to a disk file, not both`));
  });

  const cases: [string, RegExp, string, RegExp][] = [
    ['a topology board that does not exist', /plays: nyc-host/, 'plays: nyc-hots', /boards\[1\]\.plays: no board "nyc-hots"/],
    ['one relay pin for two boards', /bcmPin: 27/, 'bcmPin: 17', /boards\[1\]\.relay\.bcmPin: relay pin 17 is already used by boards\[0\] \(pi-01\)/],
    ['a host key that is not one', /hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGz5/, 'hostKey: "ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGz5', /boards\[1\]\.ssh\.hostKey/],
    ['an interface the topology board lacks', /interfaces: \{ eth0: eth0 \}/, 'interfaces: { wan0: eth0 }', /boards\[1\]\.interfaces\.wan0: nyc-host has no interface "wan0"/],
  ];
  for (const [what, find, replace, message] of cases) {
    it(`rejects ${what}, naming file, line and field`, () => {
      const { file, line } = variant(find, replace);
      assert.throws(() => loadInventory(file, world), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, message);
        assert.match(err.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:${line}: `));
        return true;
      });
    });
  }
});
