/**
 * Every command the CLI takes, with its synopsis and what it does: the one source of `synrace --help`
 * and of the README's command tables (a test holds the two together).
 */
export interface CommandHelp {
  synopsis: string;
  does: string;
}

export const LAB_COMMANDS: CommandHelp[] = [
  { synopsis: 'up [--name N] [--topology T] [--profile P] [--replace] [--delay auto|userspace] [--mgmt-subnet CIDR] [--config A|B|C] [--race plain|synchronized|bounded]', does: "bring up a lab of namespace boards and provision its agents (T, P: shipped name or file, default world; N defaults to the topology's name)" },
  { synopsis: 'down', does: 'remove the lab: what its manifest lists, and its own leftovers; console logs are kept in /var/log/synrace/<lab>/<start time>/' },
  { synopsis: 'labs', does: 'the labs on this host: name, backend, boards, management subnet, since' },
  { synopsis: 'status [--show-secrets]', does: 'boards, sites, roles, addresses, power, delay mode (agent tokens and console passwords hidden unless asked for)' },
  { synopsis: 'exec <board> -- <command>', does: 'run a command on a board over SSH (pinned host key)' },
  { synopsis: 'console <board>', does: "the board's serial console, live (Ctrl-] detaches)" },
  { synopsis: 'logs <board> [--tail N]', does: "the board's captured console log (timestamped)" },
  { synopsis: 'power <board> on|off|cycle', does: "power: off kills every process of the board and downs its links; on boots it again" },
  { synopsis: 'reconfigure A|B|C', does: 'switch the live lab to another configuration: every agent board provisioned again with its new config, agents restarted and checked healthy; the boards stay up' },
  { synopsis: 'netem show', does: 'the delay mode and the profile in force' },
  { synopsis: 'netem apply <profile>', does: 'change the geography of the live lab' },
  { synopsis: 'table <gateway>', does: "a client gateway's translation table: per connection its client, server, state and winner, how it started (race or cache), which path carries it (agent or kernel) and what the kernel carried; then the kernel path's totals" },
  { synopsis: 'rtt', does: 'measure the RTT matrix of the live lab against the profile' },
  { synopsis: 'verify [--connections N] [--race plain|synchronized|bounded|cached|both|all]', does: "fresh connections from every client site to the origin's address: predicted winner, observed winner, how each went (race or winner cache), truly closest site, handshake time; race modes run with the gateways' winner caches off, cached with them emptied first (the first connection races, the rest must be cached); both: plain and synchronized; exit 1 on a wrong winner where the predicted margin exceeds the timing noise measured in the same run (near ties within it are named, not judged)" },
  { synopsis: 'fidelity [--seed S] [--geographies N] [--connections N] [--config A|B|C]', does: "the predictor on random labs: N seeded random topologies and geographies (seeds S, S+1, ...: 5 to 8 sites on a plane, detoured routes, satellite downlinks, a client site that is also a replica site), each brought up as lab fid-S-i, every mode verified, the lab taken down; per mode the share of connections won by the predicted, the truly closest and the lowest-downlink site, the handshake against direct-to-closest, and every miss with its margin against the lab's measured noise; exit 1 on a miss beyond the noise" },
  { synopsis: 'test [suite...] [--grep PATTERN]', does: "end-to-end suites (lab, protocol, winner-cache) against the live lab, or only their tests whose name matches PATTERN (a regular expression; matching none fails): TAP ending in `N passed, N failed, N skipped`, and a run folder under artifacts/runs/<lab>/" },
  { synopsis: 'demo [up options]', does: 'the main job: up, boards, RTT matrix beside the profile, verification in both race modes, down' },
];

export const HARDWARE_COMMANDS: CommandHelp[] = [
  { synopsis: 'doctor --inventory F', does: 'check every resource of a hardware inventory: serial adapters, relay GPIO lines, SSH with pinned keys and Node, SD cards' },
  { synopsis: 'image build [--arch amd64|arm64] [--rebuild]', does: 'the board image from Debian packages (systemd, sshd, iproute2 with sch_netem, nginx, Node; provisioning adds the agent), shaped like Raspberry Pi OS for flash; built once per recipe into /var/cache/synrace/images (or $SYNRACE_IMAGE_CACHE), then taken from there' },
  { synopsis: 'flash <board> --image F --inventory F', does: "write an .img/.img.xz to the board's SD card, verify it, customise its first boot (hostname, user and key, address)" },
  { synopsis: 'up --backend vm [--topology T] [--profile P] [up options]', does: "the lab on QEMU boards (T, P default atlantic: five boards, one of them arm64): each board's disk flashed from the board image (built into the image cache first if needed), first boot from its boot partition, power by QMP, serial consoles logged, agents under systemd; delays by kernel netem in the guests" },
  { synopsis: 'up --backend hardware --inventory F [--delay auto|external] [--step-timeout S] [up options]', does: "the same lab on physical boards: relays power them, consoles are logged, each board is provisioned over SSH (systemd units); delays by kernel netem on each WAN board, or external: the WAN has them already (checked by measuring)" },
];

export const COMMON_OPTIONS = [
  '--lab NAME      the lab a command works on; needed only when several labs are up',
  '--json          one JSON document on stdout; progress goes to stderr',
];

function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l) => indent + l).join('\n');
}

export function usageText(): string {
  const block = (commands: CommandHelp[]) => commands.map((c) => `  ${c.synopsis}\n${wrap(c.does, 72, '        ')}`).join('\n');
  return `usage: synrace <command> [options]\n\n${block(LAB_COMMANDS)}\n\nreal boards:\n${block(HARDWARE_COMMANDS)}\n\noptions of every command:\n${COMMON_OPTIONS.map((o) => `  ${o}`).join('\n')}`;
}
