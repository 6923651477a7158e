import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import { attachConsole, createProgressRenderer } from '@synrace/hardware';
import { loadInventory } from '@synrace/netem-profiles';
import { doctor, renderFindings } from './hardware-lab/doctor';
import { flashBoard } from './hardware-lab/flash-board';
import { Lab, type LabUpOptions } from './lab';
import type { LabState } from './lab-state';
import { Progress } from './progress';
import { withinTolerance, type RttSample } from './rtt';
import { boardTable, netemShow, rttMatrix } from './views';
import type { RaceMode } from './provision/agent-config';
import { renderVerdicts, type SiteVerdict } from './verify';
import { formatSummary } from './tap-run';
import { newRunFolder, runSuites } from './test-run';

const USAGE = `usage: synrace <command> [options]

  up [--topology T] [--profile P] [--replace] [--delay auto|userspace]
     [--config A|B|C] [--race plain|synchronized]
                               bring up a lab and provision its agents
                               (T, P: shipped name or file; default world)
  up --backend hardware --inventory F [--delay auto|external] [--step-timeout S] [up options]
                               the same lab on physical boards: relays power them, consoles
                               are logged, each board is provisioned (systemd units) over SSH;
                               delays by kernel netem on each WAN board (checked first), or
                               external: the WAN has them already (checked by measuring);
                               --step-timeout: seconds each bring-up step may take
  down                         remove the lab and everything it made (hardware: stop and
                               disable the units, remove tc trees, power the boards off)
  status                       boards, power, addresses and the delay mode
  demo [up options]            the main job: up, boards, RTT matrix beside the profile's,
                               closest-replica verification in both race modes, down
  verify [--connections N] [--race plain|synchronized|both]
                               fresh connections from every client site: does each land
                               on the predicted winner? (exit 1 on any mismatch)
  rtt                          measure the RTT matrix of the live lab
  test [suite...]              run end-to-end suites (lab, protocol) against the live lab:
                               TAP on stdout, a run folder with consoles, pcaps, agent state
  exec <board> -- <command>    run a command on a board over SSH
  console <board>              attach to a board's serial console (Ctrl-] detaches)
  logs <board> [--tail N]      the board's captured console log
  power <board> on|off|cycle   switch a board's power
  doctor --inventory F         check every resource of a hardware inventory: serial
                               adapters, relay GPIO lines, SSH with pinned keys, SD cards
  flash <board> --image F --inventory F
                               write an .img/.img.xz to the board's SD card, verify it,
                               customise its first boot (hostname, user and key, address)
  netem show                   the delay mode and the profile in force
  netem apply <profile>        apply another delay profile to the live lab

  --json on any command prints one JSON document on stdout; progress goes to stderr.`;

class UsageError extends Error {}

function choice<T extends string>(value: string | undefined, option: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value ?? '')) throw new UsageError(`--${option} must be one of ${allowed.join(', ')}, not "${value}"`);
  return value as T;
}

function verifyVerdict(verdicts: SiteVerdict[]): string {
  const failed = verdicts.filter((v) => !v.ok);
  return failed.length === 0
    ? `verified: every client site landed on its predicted winner (${verdicts.length} site/mode checks)`
    : `MISMATCH in ${failed.length} of ${verdicts.length} site/mode checks: ${failed.map((v) => `${v.clientSite} (${v.mode})`).join(', ')}`;
}

function interruptible<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let caught: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    caught = sig;
    process.stderr.write(`\n${sig}: stopping at the next step and removing what was created\n`);
    controller.abort(new Error(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return work(controller.signal).finally(() => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // What was created is removed by now; work abandoned mid-way (a board's SSH retries) must not keep the command alive.
    if (caught) setImmediate(() => process.exit(128 + constants.signals[caught!]));
  });
}

function print(json: boolean, data: unknown, human: string): void {
  process.stdout.write(json ? JSON.stringify(data, null, 2) + '\n' : human + '\n');
}

function rttReport(samples: RttSample[]): { text: string; failed: RttSample[] } {
  const failed = samples.filter((s) => !withinTolerance(s));
  const verdict = failed.length === 0
    ? `all ${samples.length} paths within max(1 ms, 5%) of the profile`
    : `${failed.length} of ${samples.length} paths outside max(1 ms, 5%): ${failed.map((f) => `${f.from}->${f.to}`).join(', ')}`;
  return { text: `${rttMatrix(samples)}\n\n${verdict}`, failed };
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      topology: { type: 'string' },
      profile: { type: 'string' },
      replace: { type: 'boolean', default: false },
      delay: { type: 'string', default: 'auto' },
      backend: { type: 'string', default: 'virtual' },
      'step-timeout': { type: 'string' },
      tail: { type: 'string' },
      config: { type: 'string', default: 'A' },
      race: { type: 'string' },
      connections: { type: 'string', default: '5' },
      inventory: { type: 'string' },
      image: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  const json = values.json ?? false;
  const progress = new Progress();
  if (values.help || !command) {
    process.stdout.write(USAGE + '\n');
    return command || values.help ? 0 : 2;
  }
  const delay = choice(values.delay, 'delay', ['auto', 'userspace', 'external'] as const);
  const backend = choice(values.backend, 'backend', ['virtual', 'hardware'] as const);
  const configuration = choice(values.config, 'config', ['A', 'B', 'C'] as const);
  const connections = Number(values.connections);
  if (!Number.isInteger(connections) || connections < 1 || connections > 1000) throw new UsageError(`--connections takes a whole number from 1 to 1000, not "${values.connections}"`);
  const stepTimeout = values['step-timeout'] === undefined ? undefined : Number(values['step-timeout']);
  if (stepTimeout !== undefined && !(stepTimeout > 0 && stepTimeout <= 3600)) throw new UsageError(`--step-timeout takes seconds from 1 to 3600, not "${values['step-timeout']}"`);
  const upOptions = (signal: AbortSignal): LabUpOptions => ({
    backend,
    inventory: values.inventory,
    topology: values.topology,
    profile: values.profile,
    replace: values.replace,
    delay,
    configuration,
    raceMode: choice(values.race ?? 'plain', 'race', ['plain', 'synchronized'] as const),
    ...(stepTimeout ? { timeouts: { powered: stepTimeout * 1000, booted: stepTimeout * 1000, reachable: stepTimeout * 1000, provisioned: stepTimeout * 1000 } } : {}),
    signal,
  });
  const verifyModes = (): RaceMode[] => {
    const race = choice(values.race ?? 'both', 'race', ['plain', 'synchronized', 'both'] as const);
    return race === 'both' ? ['plain', 'synchronized'] : [race];
  };

  switch (command) {
    case 'up': {
      const lab = await interruptible((signal) => Lab.up(upOptions(signal), undefined, progress));
      const state = lab.state();
      print(json, state, await boardTable(lab, state));
      return 0;
    }
    case 'down': {
      const removed = await Lab.attach(undefined, progress).down();
      const what = removed.boards === undefined
        ? `${removed.namespaces} namespaces and ${removed.processes} processes removed`
        : `${removed.boards} boards ${removed.problems?.length ? `released, except: ${removed.problems.map((p) => `${p.board}: ${p.problem}`).join('; ')}` : 'released: units disabled, tc trees removed, relays open'}`;
      print(json, removed, `lab down: ${what}${removed.logs ? `; console logs in ${removed.logs}` : ''}`);
      return removed.problems?.length ? 1 : 0;
    }
    case 'status': {
      const lab = Lab.attach(undefined, progress);
      const state: LabState = lab.state();
      print(json, state, `${await boardTable(lab, state)}\n\ndelay: ${state.delay.mode} (${state.delay.probe})`);
      return 0;
    }
    case 'demo': {
      const lab = await interruptible((signal) => Lab.up(upOptions(signal), undefined, progress));
      try {
        const state = lab.state();
        process.stderr.write('\n');
        if (!json) print(false, null, `${await boardTable(lab, state)}\n`);
        progress.step('measuring the RTT matrix from every client host');
        const samples = await lab.measureRtt();
        const rtt = rttReport(samples);
        if (!json) print(false, null, `${rtt.text}\n`);
        progress.step(`verifying closest-replica selection: ${connections} fresh connections per client site and race mode`);
        const { verdicts, report } = await lab.verify(['plain', 'synchronized'], connections, newRunFolder());
        const failed = verdicts.filter((v) => !v.ok);
        print(json, { boards: state.boards, delay: state.delay, rtt: samples, verify: verdicts, report }, `${renderVerdicts(verdicts)}\n\n${verifyVerdict(verdicts)}\nreport: ${report}`);
        return rtt.failed.length === 0 && failed.length === 0 ? 0 : 1;
      } finally {
        await lab.down();
      }
    }
    case 'verify': {
      const { verdicts, report } = await Lab.attach(undefined, progress).verify(verifyModes(), connections, newRunFolder());
      print(json, { verdicts, report }, `${renderVerdicts(verdicts)}\n\n${verifyVerdict(verdicts)}\nreport: ${report}`);
      return verdicts.every((v) => v.ok) ? 0 : 1;
    }
    case 'test': {
      const lab = Lab.attach(undefined, progress);
      const run = await runSuites(lab, rest, (chunk) => {
        if (!json) process.stdout.write(chunk);
      });
      progress.step(`run folder: ${run.folder}; report: ${run.report}`);
      print(json, run, `\n${formatSummary(run.summary)}`);
      return run.summary.fail === 0 ? 0 : 1;
    }
    case 'doctor': {
      if (!values.inventory) throw new UsageError('doctor needs --inventory <file>');
      const findings = await doctor(loadInventory(values.inventory));
      print(json, findings, renderFindings(findings));
      return findings.some((f) => f.status === 'fail') ? 1 : 0;
    }
    case 'flash': {
      const [board] = rest;
      if (!board || !values.image || !values.inventory) throw new UsageError('flash needs a board, --image <file> and --inventory <file>');
      const bar = createProgressRenderer(process.stderr);
      const summary = await flashBoard(loadInventory(values.inventory), board, values.image, bar.update);
      bar.end();
      print(json, summary, `${board}: wrote ${summary.image} to ${summary.device}, ${(summary.bytes / 1e6).toFixed(0)} MB at ${summary.megabytesPerSecond.toFixed(1)} MB/s, verified (sha256 ${summary.sha256.slice(0, 16)}...), first boot: ${summary.bootFiles.join(', ')}`);
      return 0;
    }
    case 'rtt': {
      const report = rttReport(await Lab.attach(undefined, progress).measureRtt());
      print(json, report, report.text);
      return report.failed.length === 0 ? 0 : 1;
    }
    case 'exec': {
      const [board, ...cmd] = rest;
      if (!board || cmd.length === 0) throw new UsageError('exec needs a board and a command: synrace exec <board> -- <command>');
      const result = await Lab.attach(undefined, progress).exec(board, cmd.join(' '));
      if (json) print(true, result, '');
      else {
        process.stdout.write(result.stdout);
        process.stderr.write(result.stderr);
      }
      return result.code ?? 1;
    }
    case 'console': {
      const [board] = rest;
      if (!board) throw new UsageError('console needs a board: synrace console <board>');
      await attachConsole(Lab.attach(undefined, progress).consoleSocket(board), process.stdin, process.stdout);
      return 0;
    }
    case 'logs': {
      const [board] = rest;
      if (!board) throw new UsageError('logs needs a board: synrace logs <board>');
      const tail = values.tail === undefined ? undefined : Number(values.tail);
      if (tail !== undefined && !(Number.isInteger(tail) && tail > 0)) throw new UsageError(`--tail takes a positive whole number, not "${values.tail}"`);
      const lines = await Lab.attach(undefined, progress).consoleLog(board, tail);
      print(json, lines, lines.join('\n'));
      return 0;
    }
    case 'power': {
      const [board, action] = rest;
      if (!board || !['on', 'off', 'cycle'].includes(action)) throw new UsageError('power needs a board and on|off|cycle: synrace power <board> on|off|cycle');
      const power = await Lab.attach(undefined, progress).power(board, action as 'on' | 'off' | 'cycle');
      print(json, { board, power }, `${board}: power ${power}`);
      return 0;
    }
    case 'netem': {
      const [verb, profile] = rest;
      const lab = Lab.attach(undefined, progress);
      if (verb === 'apply') {
        if (!profile) throw new UsageError('netem apply needs a profile: synrace netem apply <name|file>');
        await lab.applyProfile(profile);
      } else if (verb !== 'show') throw new UsageError('netem takes show or apply <profile>');
      const shown = netemShow(lab);
      print(json, shown.data, shown.text);
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

export async function runCli(argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  try {
    process.exitCode = await main(argv);
  } catch (err) {
    const message = (err as Error).message;
    if (json) process.stdout.write(JSON.stringify({ error: message }, null, 2) + '\n');
    process.stderr.write(`synrace: ${message}\n${err instanceof UsageError ? `\n${USAGE}\n` : ''}`);
    process.exitCode = err instanceof UsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? 2 : 1;
  }
}
