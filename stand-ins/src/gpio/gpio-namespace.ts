import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { FAKE_GPIO_CONFIG_ENV, readFakeGpioEvents, type FakeGpioChip, type FakeGpioConfig, type FakeGpioEvent } from './fake-gpio-sysfs';

async function readToEnd(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

const FAKE_SYSFS = join(__dirname, 'fake-gpio-sysfs.js');

// Runs in a private mount namespace: a tmpfs for the fake, /sys/class made
// writable by an overlay so a gpio/ mount point can exist (the kernel has no
// GPIO sysfs), the fake's directory bound there, the fake started, then the
// script. The mounts go away with the namespace.
const NAMESPACE_SCRIPT = `
set -eu
work=$1 node=$2 fake=$3; shift 3
mnt=$work/mnt
mount -t tmpfs synrace-fake-gpio "$mnt"
mkdir "$mnt/upper" "$mnt/overlay-work" "$mnt/gpio" "$mnt/staging"
mount -t overlay synrace-fake-sysfs -o "lowerdir=/sys/class,upperdir=$mnt/upper,workdir=$mnt/overlay-work" /sys/class
mkdir /sys/class/gpio
mount --bind "$mnt/gpio" /sys/class/gpio
coproc FAKE { exec "$node" "$fake"; }
fake_pid=$FAKE_PID
read -r ready <&"\${FAKE[0]}" || true
[ "$ready" = ready ] || { echo "the fake GPIO sysfs did not start" >&2; exit 1; }
# The script runs apart so that an interrupt reaches it alone: the fake must keep serving its cleanup.
"$node" "$@" &
script=$!
trap 'kill -INT "$script" 2>/dev/null || true' INT TERM
status=0
while :; do
  wait "$script" && status=0 || status=$?
  kill -0 "$script" 2>/dev/null || break
done
eval "exec \${FAKE[1]}>&- \${FAKE[0]}<&-"
wait "$fake_pid" || true
exit "$status"
`;

export interface FakeGpioRun {
  stdout: string;
  events: FakeGpioEvent[];
}

/**
 * Runs a compiled node script where /sys/class/gpio is a fake offering `chips`
 * (see fake-gpio-sysfs.ts), and returns what the script printed and what the
 * fake saw. The namespace, its mounts and the work directory are gone when
 * this returns, also on failure. `signal` gives the script SIGINT, with the
 * fake still serving while it cleans up.
 */
export async function runWithFakeGpio(
  chips: FakeGpioChip[],
  idleLevel: 0 | 1,
  script: string,
  args: string[],
  timeoutMs = 15_000,
  signal?: AbortSignal,
): Promise<FakeGpioRun> {
  const work = await mkdtemp(join(tmpdir(), 'srt-fake-gpio-'));
  try {
    await mkdir(join(work, 'mnt'));
    const config: FakeGpioConfig = {
      chips,
      idleLevel,
      gpioDir: join(work, 'mnt', 'gpio'),
      stagingDir: join(work, 'mnt', 'staging'),
      eventsFile: join(work, 'events.jsonl'),
      barrierFile: join(work, 'barrier'),
    };
    const configFile = join(work, 'config.json');
    await writeFile(configFile, JSON.stringify(config));
    const child = spawn(
      'unshare',
      ['-m', '--propagation', 'private', 'bash', '-c', NAMESPACE_SCRIPT, 'fake-gpio', work, process.execPath, FAKE_SYSFS, script, ...args],
      // Its own process group, so that a timeout ends the script and the fake too, not only bash.
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, [FAKE_GPIO_CONFIG_ENV]: configFile }, detached: true },
    );
    const killGroup = () => child.pid !== undefined && child.exitCode === null && process.kill(-child.pid, 'SIGKILL');
    const timer = setTimeout(killGroup, timeoutMs);
    const interrupt = () => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGINT');
    signal?.addEventListener('abort', interrupt, { once: true });
    try {
      const [stdout, stderr, [code]] = await Promise.all([readToEnd(child.stdout), readToEnd(child.stderr), once(child, 'exit') as Promise<[number | null]>]);
      if (code !== 0) throw new Error(`script in the fake GPIO namespace exited with ${code}:\n${stderr}`);
      return { stdout, events: await readFakeGpioEvents(config.eventsFile) };
    } finally {
      signal?.removeEventListener('abort', interrupt);
      clearTimeout(timer);
      killGroup();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
