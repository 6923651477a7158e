import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabHostNames } from '../src/labs/host-names';
import { chooseManagementSubnet, checkLabName, listLabs, resolveLab } from '../src/labs/registry';
import { RunDir } from '../src/labs/run-dir';
import { shownState, type LabState } from '../src/labs/lab-state';

function stateOf(name: string, subnet: string): LabState {
  return {
    version: 2, name, backend: 'namespace', phase: 'up', startedAt: '2026-12-01T00:00:00.000Z', topologyFile: '/t', profileFile: '/p',
    management: { subnet, hostAddress: '', prefixLength: 24 }, delay: { mode: 'userspace-delay-line', probe: '' },
    boards: [{ name: 'gw', site: 's', roles: ['client-gateway'], mgmtAddress: '10.0.0.10', login: { port: 22, user: 'root', privateKeyPath: '/k' }, hostKey: 'ssh-ed25519 AAAA', power: 'on', agentToken: 'secret-token-of-board-gw' }],
  };
}

describe('labs on one host', () => {
  let root: string;
  const saved = process.env.SYNRACE_RUN_DIR;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'srt-labs-'));
    process.env.SYNRACE_RUN_DIR = root;
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
    if (saved === undefined) delete process.env.SYNRACE_RUN_DIR;
    else process.env.SYNRACE_RUN_DIR = saved;
  });
  const upLab = (name: string, subnet: string) => new RunDir(join(root, name)).writeState(stateOf(name, subnet));

  it('refuses a lab name that would not make a namespace or folder name, saying what a name is', () => {
    assert.throws(() => checkLabName('World'), /--name "World": a lab name is 1-24 characters, a lowercase letter first/);
    assert.throws(() => checkLabName('a.b'), /lowercase letters, digits and '-'/);
    assert.equal(checkLabName('team-b'), 'team-b');
  });

  it('gives every lab names of its own on the host, none a prefix of another lab\'s', () => {
    const a = new LabHostNames('world');
    const b = new LabHostNames('world-2');
    assert.notEqual(a.mgmtBridge, b.mgmtBridge);
    assert.ok(!b.boardNetns('x').startsWith(a.netnsPrefix), 'lab world must not claim lab world-2\'s namespaces');
    assert.ok(!a.ownsLink(b.mgmtHostLink(3)) && a.ownsLink(a.mgmtHostLink(3)));
    assert.ok(a.mgmtHostLink(999).length <= 15);
  });

  it('works on the only lab by default, and asks which when there are several', () => {
    assert.throws(() => resolveLab(), /no lab is up/);
    upLab('world', '10.250.0.0/24');
    assert.equal(resolveLab(), 'world');
    upLab('europe', '10.250.1.0/24');
    assert.throws(() => resolveLab(), /2 labs are up \(europe, world\): say which with --lab NAME/);
    assert.equal(resolveLab('europe'), 'europe');
    assert.throws(() => resolveLab('mars'), /no lab "mars" is up; labs: europe, world/);
    mkdirSync(join(root, 'not-a-lab'));
    assert.deepEqual(listLabs().map((l) => l.name), ['europe', 'world']);
  });

  it('moves a second lab of a topology to the next free management subnet, and refuses an overlap it is told to take', async () => {
    upLab('world', '10.250.0.0/24');
    // The next free /24 after the taken one; other labs of this host (their routes) may take some too.
    const next = await chooseManagementSubnet('world-2', '10.250.0.0/24', false);
    assert.match(next, /^10\.250\.([1-9]\d*)\.0\/24$/);
    const routes = execFileSync('ip', ['-4', 'route'], { encoding: 'utf8' });
    assert.ok(!routes.split('\n').some((r) => r.startsWith(`${next} `)), `${next} is routed on this host already`);
    await assert.rejects(chooseManagementSubnet('world-2', '10.250.0.128/25', true), /management subnet 10.250.0.128\/25 for lab world-2 overlaps: lab world uses 10.250.0.0\/24/);
    upLab('self', '10.199.77.0/24');
    assert.equal(await chooseManagementSubnet('self', '10.199.77.0/24', true), '10.199.77.0/24', 'a lab does not collide with itself');
  });

  it('keeps agent tokens out of what it shows unless asked', () => {
    const state = stateOf('world', '10.250.0.0/24');
    assert.doesNotMatch(JSON.stringify(shownState(state, false)), /secret-token-of-board-gw/);
    assert.match(JSON.stringify(shownState(state, true)), /secret-token-of-board-gw/);
  });

  it('writes the state readable by root alone, in a directory nobody else can list', () => {
    upLab('world', '10.250.0.0/24');
    assert.equal(statSync(join(root, 'world', 'state.json')).mode & 0o777, 0o600);
    assert.equal(statSync(join(root, 'world')).mode & 0o777, 0o711);
  });
});
