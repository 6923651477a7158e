// Whether KVM really runs a guest here. /dev/kvm existing proves little: on this kind of host (itself a
// VM) `-cpu host` dies with "failed to set MSR 0x10a" and kvm64 boots to nothing. So a throwaway guest (the
// board's own kernel, no disk) must print the kernel's banner on its serial line within a few seconds;
// otherwise boards run under TCG.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Accelerator } from './qemu-argv';

export interface AcceleratorChoice {
  accel: Accelerator;
  /** Why, for the logs and the report. */
  reason: string;
}

const memo = new Map<string, Promise<AcceleratorChoice>>();

/**
 * Probes once per kernel and process, whichever board's copy of it is given (a lab's boards power on at
 * once, each with the kernel its firmware read from its own disk); amd64 only (this host cannot run arm64
 * guests on KVM).
 */
export function chooseAccelerator(kernel: string, timeoutMs = 8000): Promise<AcceleratorChoice> {
  const forced = process.env.SYNRACE_VM_ACCEL;
  if (forced === 'tcg') return Promise.resolve({ accel: 'tcg', reason: 'SYNRACE_VM_ACCEL=tcg' });
  if (process.arch !== 'x64') return Promise.resolve({ accel: 'tcg', reason: `host is ${process.arch}` });
  if (!existsSync('/dev/kvm')) return Promise.resolve({ accel: 'tcg', reason: 'no /dev/kvm' });
  const key = createHash('sha256').update(readFileSync(kernel)).digest('hex');
  let probe = memo.get(key);
  if (probe === undefined) {
    probe = probeKvm(kernel, timeoutMs);
    memo.set(key, probe);
  }
  return probe;
}

function probeKvm(kernel: string, timeoutMs: number): Promise<AcceleratorChoice> {
  const argv = ['-machine', 'q35,accel=kvm', '-cpu', 'host', '-m', '256', '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-kernel', kernel, '-append', 'console=ttyS0 panic=-1', '-serial', 'stdio'];
  return new Promise((resolve) => {
    const child = spawn('qemu-system-x86_64', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let stderr = '';
    let done = false;
    const finish = (choice: AcceleratorChoice) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(choice);
    };
    const timer = setTimeout(() => finish({ accel: 'tcg', reason: `a KVM probe guest printed no kernel banner within ${timeoutMs} ms` }), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('latin1');
      if (/Linux version \d/.test(output)) finish({ accel: 'kvm', reason: 'a KVM probe guest booted its kernel' });
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (err) => finish({ accel: 'tcg', reason: `KVM probe could not start QEMU: ${err.message}` }));
    child.on('exit', () => finish({ accel: 'tcg', reason: `the KVM probe guest died: ${stderr.trim().split('\n').pop() ?? 'no message'}` }));
  });
}
