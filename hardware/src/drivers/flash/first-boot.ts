// What a freshly written Raspberry Pi OS (bookworm) card should become on its first boot,
// expressed in the form that OS reads from its FAT boot partition.
//
// The form is the one Raspberry Pi Imager writes for images whose os-list entry says
// `init_format: systemd` (all bookworm Raspberry Pi OS releases): a `firstrun.sh` in the
// boot partition, started once by systemd through
//   systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target
// appended to cmdline.txt (rpi-imager src/imagewriter.cpp, src/customization_generator.cpp).
// The script drives the OS's own helpers, so their knowledge of the image stays theirs:
//   /usr/lib/raspberrypi-sys-mods/imager_custom set_hostname | enable_ssh -k KEY...
//   /usr/lib/userconf-pi/userconf USER ''   (renames the uid-1000 user, cancels the setup wizard)
// (RPi-Distro/raspberrypi-sys-mods, RPi-Distro/userconf-pi).
// Two details of bookworm constrain the text:
//  - its initramfs hook `imager_fixup` rewrites /boot/ to /boot/firmware/ in cmdline.txt and
//    truncates firstrun.sh at the first line matching `rm.*firstrun\.sh$`, appending its own
//    cleanup; so the path must be exactly /boot/firstrun.sh and that line must come last.
//  - networking is NetworkManager (since the 2023-10 images), so the static management
//    address is a keyfile in /etc/NetworkManager/system-connections (mode 600 or NM ignores it).
// Not chosen: custom.toml (read by raspberrypi-sys-mods' firstboot, but it has no network
// section and upstream is dropping it), userconf.txt + `ssh` files (no hostname, keys or address).
import { randomUUID } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { shellQuote } from '../../shell-quote';

export interface ManagementAddress {
  /** Defaults to eth0. */
  interface?: string;
  /** IPv4 CIDR, e.g. "10.0.1.2/24". */
  address: string;
  gateway?: string;
  dns?: string[];
}

export interface FirstBootSettings {
  hostname: string;
  /** The login user; the image's first user is renamed to it. Its password stays locked: keys only. */
  user: string;
  /** OpenSSH public key lines, e.g. "ssh-ed25519 AAAA... comment". */
  authorizedKeys: string[];
  management: ManagementAddress;
}

export const FIRST_RUN_SCRIPT = 'firstrun.sh';
export const FIRST_RUN_HOOK = 'systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target';
export const MANAGEMENT_CONNECTION = '/etc/NetworkManager/system-connections/synrace-management.nmconnection';

const IMAGER_CUSTOM = '/usr/lib/raspberrypi-sys-mods/imager_custom';
const USERCONF = '/usr/lib/userconf-pi/userconf';

export class FirstBootSettingsError extends Error {
  constructor(readonly field: string, message: string) {
    super(`first-boot settings, ${field}: ${message}`);
    this.name = 'FirstBootSettingsError';
  }
}

function isCidr4(value: string): boolean {
  const [address, prefix, extra] = value.split('/');
  return extra === undefined && isIPv4(address) && /^\d{1,2}$/.test(prefix ?? '') && Number(prefix) <= 32;
}

/** Rejects values the OS would reject later, on a board with no console, or that could break out of the script. */
export function validateFirstBootSettings(s: FirstBootSettings): void {
  const fail = (field: string, message: string): never => {
    throw new FirstBootSettingsError(field, message);
  };
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(s.hostname)) fail('hostname', `${JSON.stringify(s.hostname)} is not a valid host name`);
  // userconf-pi's own rule for user names.
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(s.user) || s.user === 'root') fail('user', `${JSON.stringify(s.user)} is not a valid user name`);
  if (s.authorizedKeys.length === 0) fail('authorizedKeys', 'at least one key is needed: password login stays off');
  for (const key of s.authorizedKeys) {
    if (!/^(ssh-[a-z0-9-]+|ecdsa-sha2-nistp\d+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( [^\n\r]*)?$/.test(key)) {
      fail('authorizedKeys', `not one OpenSSH public key line: ${JSON.stringify(key.slice(0, 40))}`);
    }
  }
  const m = s.management;
  if (m.interface !== undefined && !/^[A-Za-z0-9_.-]{1,15}$/.test(m.interface)) fail('management.interface', `${JSON.stringify(m.interface)} is not an interface name`);
  if (!isCidr4(m.address)) fail('management.address', `${JSON.stringify(m.address)} is not an IPv4 address with a prefix length`);
  if (m.gateway !== undefined && !isIPv4(m.gateway)) fail('management.gateway', `${JSON.stringify(m.gateway)} is not an IPv4 address`);
  for (const server of m.dns ?? []) if (!isIPv4(server)) fail('management.dns', `${JSON.stringify(server)} is not an IPv4 address`);
}


/** The NetworkManager keyfile for the static management address. */
export function managementConnection(m: ManagementAddress, uuid: string = randomUUID()): string {
  const lines = [
    '[connection]',
    'id=synrace-management',
    `uuid=${uuid}`,
    'type=ethernet',
    `interface-name=${m.interface ?? 'eth0'}`,
    'autoconnect=true',
    '',
    '[ethernet]',
    '',
    '[ipv4]',
    'method=manual',
    `address1=${m.address}${m.gateway ? `,${m.gateway}` : ''}`,
    ...(m.dns?.length ? [`dns=${m.dns.join(';')};`] : []),
    '',
    '[ipv6]',
    'method=disabled',
  ];
  return lines.join('\n') + '\n';
}

/** The firstrun.sh that applies `settings` once and then removes itself and its cmdline.txt hook. */
export function firstRunScript(settings: FirstBootSettings): string {
  validateFirstBootSettings(settings);
  return [
    '#!/bin/sh',
    '# Written by synrace flash; run once by systemd.run= from cmdline.txt, then removed.',
    'set +e',
    '',
    `${IMAGER_CUSTOM} set_hostname ${shellQuote(settings.hostname)}`,
    `${IMAGER_CUSTOM} enable_ssh -k ${settings.authorizedKeys.map(shellQuote).join(' ')}`,
    `${USERCONF} ${shellQuote(settings.user)} ''`,
    '',
    `cat >${MANAGEMENT_CONNECTION} <<'SYNRACE_EOF'`,
    managementConnection(settings.management).trimEnd(),
    'SYNRACE_EOF',
    `chmod 600 ${MANAGEMENT_CONNECTION}`,
    '',
    // Must stay the last lines: bookworm's imager_fixup cuts the script at the `rm` line.
    `rm -f /boot/${FIRST_RUN_SCRIPT}`,
    "sed -i 's| systemd.run.*||g' /boot/cmdline.txt",
    'exit 0',
    '',
  ].join('\n');
}

/** cmdline.txt with the first-run hook appended once; it must stay a single line. */
export function withFirstRunHook(cmdline: string): string {
  const kept = cmdline
    .trim()
    .split(/\s+/)
    .filter((arg) => arg !== '' && !/^systemd\.(run|run_success_action|unit)=/.test(arg));
  return [...kept, FIRST_RUN_HOOK].join(' ') + '\n';
}
