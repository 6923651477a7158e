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

/** A data-plane NIC's static address, kept by NetworkManager across boots like the management address. */
export interface DataInterface {
  interface: string;
  /** IPv4 CIDR. */
  address: string;
  /** The default route; a LAN-only board's. */
  gateway?: string;
  /** Further routes out of this NIC, e.g. a client site's LAN via its router. */
  routes?: { to: string; via: string }[];
}

export interface FirstBootSettings {
  hostname: string;
  /** The login user; the image's first user is renamed to it. Its password stays locked: keys only. */
  user: string;
  /** OpenSSH public key lines, e.g. "ssh-ed25519 AAAA... comment". */
  authorizedKeys: string[];
  /**
   * The user's password as crypt(3) hash, for logging in on the serial console; SSH stays key-only. Without
   * it the password stays locked, as Raspberry Pi Imager leaves it with keys only.
   */
  passwordHash?: string;
  management: ManagementAddress;
  /** The board's lab addresses, when its flash knows them (a board whose role and place the lab decides). */
  dataInterfaces?: DataInterface[];
  /** A router (client gateway, server switch): IPv4 forwarding on, from every boot. */
  forwarding?: boolean;
  /** The keys log in as root too (by key only), for a lab that provisions the board over SSH as root. */
  rootLogin?: boolean;
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
  if (s.passwordHash !== undefined && !/^\$[0-9a-z]+\$[./A-Za-z0-9]+\$[./A-Za-z0-9]+$/.test(s.passwordHash)) fail('passwordHash', 'not a crypt(3) hash such as `openssl passwd -6` prints');
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
  (s.dataInterfaces ?? []).forEach((d, i) => {
    const at = `dataInterfaces[${i}]`;
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(d.interface) || d.interface === (m.interface ?? 'eth0')) fail(`${at}.interface`, `${JSON.stringify(d.interface)} is not an interface name other than the management one`);
    if (!isCidr4(d.address)) fail(`${at}.address`, `${JSON.stringify(d.address)} is not an IPv4 address with a prefix length`);
    if (d.gateway !== undefined && !isIPv4(d.gateway)) fail(`${at}.gateway`, `${JSON.stringify(d.gateway)} is not an IPv4 address`);
    for (const r of d.routes ?? []) if (!isCidr4(r.to) || !isIPv4(r.via)) fail(`${at}.routes`, `${JSON.stringify(r)} is not a route (to: CIDR, via: address)`);
  });
}


/** A NetworkManager keyfile for one NIC's static address (and routes, and its offloads). */
function staticConnection(id: string, ifname: string, ipv4: string[], uuid: string, ethtool: string[] = []): string {
  const lines = ['[connection]', `id=${id}`, `uuid=${uuid}`, 'type=ethernet', `interface-name=${ifname}`, 'autoconnect=true', '', '[ethernet]', '', ...(ethtool.length ? ['[ethtool]', ...ethtool, ''] : []), '[ipv4]', 'method=manual', ...ipv4, '', '[ipv6]', 'method=disabled'];
  return lines.join('\n') + '\n';
}

/**
 * A data NIC hands the agents whole, checksummed packets, one per frame: no receive coalescing (GRO), no
 * segmentation or checksum left to the NIC, as on the namespace lab's links.
 */
const DATA_NIC_OFFLOADS = ['feature-gro=false', 'feature-gso=false', 'feature-tso=false', 'feature-tx=false'];

/** The NetworkManager keyfile for the static management address. */
export function managementConnection(m: ManagementAddress, uuid: string = randomUUID()): string {
  return staticConnection('synrace-management', m.interface ?? 'eth0', [`address1=${m.address}${m.gateway ? `,${m.gateway}` : ''}`, ...(m.dns?.length ? [`dns=${m.dns.join(';')};`] : [])], uuid);
}

/** The NetworkManager keyfile of a data NIC. */
export function dataConnection(d: DataInterface, uuid: string = randomUUID()): string {
  const ipv4 = [`address1=${d.address}${d.gateway ? `,${d.gateway}` : ''}`, ...(d.routes ?? []).map((r, i) => `route${i + 1}=${r.to},${r.via}`)];
  return staticConnection(`synrace-${d.interface}`, d.interface, ipv4, uuid, DATA_NIC_OFFLOADS);
}

/** Where a data NIC's keyfile goes. */
export function dataConnectionPath(ifname: string): string {
  return `/etc/NetworkManager/system-connections/synrace-${ifname}.nmconnection`;
}

export const FORWARDING_SYSCTL = '/etc/sysctl.d/90-synrace-forwarding.conf';

/** A heredoc that writes `text` to `path` on the board, readable by root alone (NetworkManager ignores keyfiles others can read). */
function writeRootFile(path: string, text: string): string[] {
  return [`cat >${path} <<'SYNRACE_EOF'`, text.trimEnd(), 'SYNRACE_EOF', `chmod 600 ${path}`, ''];
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
    `${USERCONF} ${shellQuote(settings.user)} ${shellQuote(settings.passwordHash ?? '')}`,
    '',
    ...writeRootFile(MANAGEMENT_CONNECTION, managementConnection(settings.management)),
    ...(settings.dataInterfaces ?? []).flatMap((d) => writeRootFile(dataConnectionPath(d.interface), dataConnection(d))),
    ...(settings.forwarding ? [`echo net.ipv4.ip_forward=1 >${FORWARDING_SYSCTL}`, ''] : []),
    ...(settings.rootLogin
      ? [
          'install -d -m 700 /root/.ssh',
          ...writeRootFile('/root/.ssh/authorized_keys', settings.authorizedKeys.join('\n')),
          // Lingering keeps root's user manager running from boot on; otherwise every login that follows a quiet
          // spell starts one, which takes seconds on an emulated CPU.
          'mkdir -p /var/lib/systemd/linger && touch /var/lib/systemd/linger/root',
          '',
        ]
      : []),
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
