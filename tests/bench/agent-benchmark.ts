import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { agentBenchmarkScript, type AgentBenchmark } from '@synrace/agents/bench';
import type { BenchContext, HostSection } from './section';

/** Lines of the benchmark's stderr kept to explain a failure. */
const STDERR_TAIL_LINES = 20;

/**
 * Runs one of the agents' micro-benchmarks (agents/dist/bench/<script>.js), which own their measurement,
 * and returns the JSON document it prints; its stderr becomes progress.
 */
export function runAgentBenchmark(script: AgentBenchmark, context: BenchContext): Promise<unknown> {
  const path = agentBenchmarkScript(script);
  return new Promise((resolve, reject) => {
    // A process group of its own: a terminal's Ctrl-C reaches only the bench, which passes on exactly one
    // SIGINT; a second one would kill the benchmark before it removed its namespaces.
    const child = spawn(process.execPath, [path], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const interrupt = () => child.kill('SIGINT');
    context.signal.addEventListener('abort', interrupt, { once: true });
    let stdout = '';
    const stderrTail: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    createInterface({ input: child.stderr }).on('line', (line) => {
      context.progress.step(`${script}: ${line}`);
      stderrTail.push(line);
      if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      context.signal.removeEventListener('abort', interrupt);
      if (context.signal.aborted) return reject(context.signal.reason);
      if (code !== 0) return reject(new Error(`${script} exited with ${code ?? signal}:\n${stderrTail.join('\n')}`));
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(new Error(`${script} printed no JSON document on stdout:\n${stdout.slice(0, 500)}`));
      }
    });
  });
}

/** A bench section that is one agents' micro-benchmark, rendered for the report. */
export function agentBenchmarkSection<T>(name: string, script: AgentBenchmark, title: string, what: string, render: (result: T) => string): HostSection {
  return {
    name,
    title: `${title} (agents/dist/bench/${script}.js)`,
    needs: 'host',
    async run(context) {
      context.progress.step(`${name}: running the agents' ${script} benchmark (${what})`);
      const result = (await runAgentBenchmark(script, context)) as T;
      return { result, text: render(result) };
    },
  };
}
