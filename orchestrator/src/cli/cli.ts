import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import { RACE_MODES } from '@synrace/agents';
import { attachConsole, BOARD_ARCHES, buildBoardImage, createProgressRenderer } from '@synrace/hardware';
import { boardsWithRole, loadInventory } from '@synrace/netem-profiles';
import { doctor, renderFindings } from '../backends/hardware/doctor';
import { flashBoard } from '../backends/hardware/flash-board';
import { runDemo } from '../demo';
import { withinTolerance, type RttSample } from '../delays/rtt';
import { Lab, type LabUpOptions } from '../lab';
import { BACKEND_KINDS, shownState } from '../labs/lab-state';
import { listLabs } from '../labs/registry';
import { newRunFolder } from '../labs/run-folders';
import { Progress } from '../progress';
import { runSuites, suitesNamed } from '../suites';
import { renderTable } from '../table';
import { formatSummary } from '../tap-run';
import { renderFidelity, runFidelity } from '../fidelity';
import { renderVerdicts, VERIFY_MODES, type RunJudgement, type SiteVerdict, type VerifyMode } from '../verify';
import { usageText } from './commands';
import { boardTable, gatewayTable, netemShow, rttMatrix } from './views';

class UsageError extends Error {}

function choice<T extends string>(value: string | undefined, option: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value ?? '')) throw new UsageError(`--${option} must be one of ${allowed.join(', ')}, not "${value}"`);
  return value as T;
}

function verifyVerdict(verdicts: SiteVerdict[], judged: RunJudgement): string {
  const named = (vs: SiteVerdict[]) => vs.map((v) => `${v.clientSite} (${v.mode})`).join(', ');
  const ties = judged.nearTies.length ? `; near ties within this run's measured noise of ${judged.noiseMs.toFixed(1)} ms, not judged: ${named(judged.nearTies)}` : '';
  return judged.misses.length === 0
    ? `verified: ${verdicts.length - judged.nearTies.length} of ${verdicts.length} site/mode checks on their predicted winner${ties}`
    : `MISMATCH beyond this run's measured noise of ${judged.noiseMs.toFixed(1)} ms in ${judged.misses.length} of ${verdicts.length} site/mode checks: ${named(judged.misses)}${ties}`;
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
      lab: { type: 'string' },
      name: { type: 'string' },
      topology: { type: 'string' },
      profile: { type: 'string' },
      replace: { type: 'boolean', default: false },
      delay: { type: 'string', default: 'auto' },
      backend: { type: 'string', default: 'namespace' },
      'mgmt-subnet': { type: 'string' },
      'step-timeout': { type: 'string' },
      'show-secrets': { type: 'boolean', default: false },
      tail: { type: 'string' },
      grep: { type: 'string' },
      config: { type: 'string', default: 'A' },
      race: { type: 'string' },
      connections: { type: 'string', default: '5' },
      seed: { type: 'string', default: '1' },
      geographies: { type: 'string', default: '5' },
      inventory: { type: 'string' },
      image: { type: 'string' },
      arch: { type: 'string', default: 'amd64' },
      rebuild: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  const json = values.json ?? false;
  const progress = new Progress();
  if (values.help || !command) {
    process.stdout.write(usageText() + '\n');
    return command || values.help ? 0 : 2;
  }
  const delay = choice(values.delay, 'delay', ['auto', 'userspace', 'external'] as const);
  const backend = choice(values.backend, 'backend', BACKEND_KINDS);
  const configuration = choice(values.config, 'config', ['A', 'B', 'C'] as const);
  const connections = Number(values.connections);
  if (!Number.isInteger(connections) || connections < 1 || connections > 1000) throw new UsageError(`--connections takes a whole number from 1 to 1000, not "${values.connections}"`);
  const stepTimeout = values['step-timeout'] === undefined ? undefined : Number(values['step-timeout']);
  if (stepTimeout !== undefined && !(stepTimeout > 0 && stepTimeout <= 3600)) throw new UsageError(`--step-timeout takes seconds from 1 to 3600, not "${values['step-timeout']}"`);
  const upOptions = (signal: AbortSignal): LabUpOptions => ({
    name: values.name,
    backend,
    inventory: values.inventory,
    topology: values.topology,
    profile: values.profile,
    replace: values.replace,
    delay,
    mgmtSubnet: values['mgmt-subnet'],
    configuration,
    raceMode: choice(values.race ?? 'plain', 'race', RACE_MODES),
    ...(stepTimeout ? { timeouts: { powered: stepTimeout * 1000, booted: stepTimeout * 1000, reachable: stepTimeout * 1000, provisioned: stepTimeout * 1000 } } : {}),
    signal,
  });
  const verifyModes = (): VerifyMode[] => {
    const race = choice(values.race ?? 'both', 'race', [...VERIFY_MODES, 'both', 'all'] as const);
    if (race === 'all') return [...VERIFY_MODES];
    return race === 'both' ? ['plain', 'synchronized'] : [race];
  };
  const attach = () => Lab.attach(values.lab, progress);
  const showSecrets = values['show-secrets'] ?? false;

  switch (command) {
    case 'up': {
      const lab = await interruptible((signal) => Lab.up(upOptions(signal), progress));
      const state = lab.state();
      print(json, shownState(state, showSecrets), await boardTable(lab, state));
      return 0;
    }
    case 'down': {
      const removed = await attach().down();
      const what = `${removed.namespaces} namespaces, ${removed.links} host links and ${removed.processes} processes removed`;
      const problems = removed.problems.length ? `; not undone: ${removed.problems.map((p) => `${p.board}: ${p.problem}`).join('; ')}` : '';
      print(json, removed, `lab ${removed.lab} down: ${what}${problems}${removed.logs ? `; console logs in ${removed.logs}` : ''}`);
      return removed.problems.length ? 1 : 0;
    }
    case 'labs': {
      const labs = listLabs().map((l) => ({ name: l.name, backend: l.state?.backend ?? '?', boards: l.state?.boards.length ?? 0, management: l.state?.management?.subnet ?? '-', phase: l.state?.phase ?? 'half made (run down)', since: l.state?.startedAt ?? '-' }));
      print(json, labs, labs.length ? renderTable(['lab', 'backend', 'boards', 'management', 'phase', 'since'], labs.map((l) => [l.name, l.backend, String(l.boards), l.management, l.phase, l.since])) : 'no labs are up');
      return 0;
    }
    case 'status': {
      const lab = attach();
      const state = lab.state();
      print(json, shownState(state, showSecrets), `lab ${state.name} (${state.backend})\n${await boardTable(lab, state)}\n\ndelay: ${state.delay.mode} (${state.delay.probe})`);
      return 0;
    }
    case 'demo': {
      const result = await interruptible((signal) =>
        runDemo(upOptions(signal), connections, progress, {
          onUp: async (lab) => {
            process.stderr.write('\n');
            if (!json) print(false, null, `${await boardTable(lab, lab.state())}\n`);
          },
          onRtt: (samples) => {
            if (!json) print(false, null, `${rttReport(samples).text}\n`);
          },
        }),
      );
      print(json, { boards: shownState(result.state, showSecrets).boards, delay: result.state.delay, rtt: result.rtt, verify: result.verdicts, report: result.report }, `${renderVerdicts(result.verdicts)}\n\n${verifyVerdict(result.verdicts, result.judged)}\nreport: ${result.report}`);
      return result.ok ? 0 : 1;
    }
    case 'verify': {
      const lab = attach();
      const { verdicts, judged, report } = await lab.verify(verifyModes(), connections, newRunFolder(lab.name));
      print(json, { verdicts, judged: { noiseMs: judged.noiseMs, nearTies: judged.nearTies.map((v) => `${v.clientSite} ${v.mode}`) }, report }, `${renderVerdicts(verdicts)}\n\n${verifyVerdict(verdicts, judged)}\nreport: ${report}`);
      return judged.misses.length === 0 ? 0 : 1;
    }
    case 'fidelity': {
      const seed = Number(values.seed);
      const geographies = Number(values.geographies);
      if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new UsageError(`--seed takes a whole number from 0 to 2^32 - 1, not "${values.seed}"`);
      if (!Number.isInteger(geographies) || geographies < 1 || geographies > 100) throw new UsageError(`--geographies takes a whole number from 1 to 100, not "${values.geographies}"`);
      const replay = `synrace fidelity --seed ${seed} --geographies ${geographies} --connections ${connections} --config ${configuration}`;
      progress.step(`fidelity: seed ${seed} (replay: ${replay})`);
      const result = await interruptible((signal) => runFidelity({ seed, geographies, connections, configuration }, signal, progress));
      print(json, result, renderFidelity(result, replay));
      return result.misses.some((m) => m.beyondNoise) ? 1 : 0;
    }
    case 'test': {
      const lab = attach();
      const run = await runSuites(lab, suitesNamed(rest), (chunk) => {
        if (!json) process.stdout.write(chunk);
      }, values.grep);
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
    case 'image': {
      const [verb] = rest;
      if (verb !== 'build') throw new UsageError('image takes build: synrace image build [--arch amd64|arm64] [--rebuild]');
      const arch = choice(values.arch, 'arch', BOARD_ARCHES);
      const image = await interruptible((signal) =>
        buildBoardImage({ arch, rebuild: values.rebuild, signal, onProgress: (p) => progress.step(`image ${arch}: ${p.phase}: ${p.message}`) }),
      );
      const size = `${(image.manifest.sizeBytes / 2 ** 20).toFixed(0)} MiB`;
      print(json, image, `${image.path}\n${arch} board image, ${size}, ${image.cached ? `from the cache (${image.seconds.toFixed(1)} s)` : `built in ${image.seconds.toFixed(0)} s`}; flash it with: synrace flash <board> --image ${image.path} --inventory <file>`);
      return 0;
    }
    case 'table': {
      const [board] = rest;
      if (!board) throw new UsageError('table needs a client gateway: synrace table <gateway>');
      const lab = attach();
      const view = await gatewayTable(lab, board);
      if (!view) throw new UsageError(`${board} is no client gateway of lab ${lab.name}; its gateways: ${boardsWithRole(lab.inputs().topology, 'client-gateway').map((b) => b.name).join(', ')}`);
      print(json, view.data, view.text);
      return 0;
    }
    case 'rtt': {
      const report = rttReport(await attach().measureRtt());
      print(json, report, report.text);
      return report.failed.length === 0 ? 0 : 1;
    }
    case 'exec': {
      const [board, ...cmd] = rest;
      if (!board || cmd.length === 0) throw new UsageError('exec needs a board and a command: synrace exec <board> -- <command>');
      const result = await attach().exec(board, cmd.join(' '));
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
      await attachConsole(attach().consoleSocket(board), process.stdin, process.stdout);
      return 0;
    }
    case 'logs': {
      const [board] = rest;
      if (!board) throw new UsageError('logs needs a board: synrace logs <board>');
      const tail = values.tail === undefined ? undefined : Number(values.tail);
      if (tail !== undefined && !(Number.isInteger(tail) && tail > 0)) throw new UsageError(`--tail takes a positive whole number, not "${values.tail}"`);
      const lines = await attach().consoleLog(board, tail);
      print(json, lines, lines.join('\n'));
      return 0;
    }
    case 'power': {
      const [board, action] = rest;
      if (!board || !['on', 'off', 'cycle'].includes(action)) throw new UsageError('power needs a board and on|off|cycle: synrace power <board> on|off|cycle');
      const power = await attach().power(board, action as 'on' | 'off' | 'cycle');
      print(json, { board, power }, `${board}: power ${power}`);
      return 0;
    }
    case 'reconfigure': {
      const [asked] = rest;
      if (asked !== 'A' && asked !== 'B' && asked !== 'C') throw new UsageError(`reconfigure takes A, B or C (synrace reconfigure B), not "${asked ?? ''}"`);
      const lab = attach();
      await lab.reconfigure(asked);
      print(json, { lab: lab.name, configuration: asked }, `lab ${lab.name}: configuration ${asked}`);
      return 0;
    }
    case 'netem': {
      const [verb, profile] = rest;
      const lab = attach();
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
    process.stderr.write(`synrace: ${message}\n${err instanceof UsageError ? `\n${usageText()}\n` : ''}`);
    process.exitCode = err instanceof UsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? 2 : 1;
  }
}
