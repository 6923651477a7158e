// The Raspberry Pi OS (bookworm) pieces that `flash`'s first-boot customisation relies on, as files for
// a Debian root built by image-builder.ts. They are equivalents, written for this image, of:
//   /usr/lib/raspberrypi-sys-mods/imager_custom      (RPi-Distro/raspberrypi-sys-mods)
//   /usr/lib/userconf-pi/userconf, /usr/bin/cancel-rename   (RPi-Distro/userconf-pi)
//   initramfs-tools/scripts/local-bottom/imager_fixup (raspberrypi-sys-mods)
//   regenerate_ssh_host_keys(.service)                 (raspberrypi-sys-mods)
// Same paths, same command-line forms and the same effects on the root, so first-boot.ts's firstrun.sh runs
// here unchanged. What differs is what a Pi needs and a QEMU board has no use for: raspi-config (the hostname
// is set directly, as its do_hostname does), Wi-Fi, keymaps and the desktop wizard; those commands fail
// loudly instead of pretending.

/** A file the builder puts into the root: absolute path inside the root, content, mode. */
export interface RootFile {
  path: string;
  content: string;
  mode: number;
}

export const IMAGER_CUSTOM = `#!/bin/sh
# Equivalent of Raspberry Pi OS's imager_custom (raspberrypi-sys-mods) for a synrace QEMU board image:
# the commands Raspberry Pi Imager's firstrun.sh calls, with the same arguments and effects.
set -e

FIRSTUSER=$(getent passwd 1000 | cut -d: -f1)
FIRSTUSERHOME=$(getent passwd 1000 | cut -d: -f6)

set_hostname () {
  if [ "$#" -ne 1 ]; then echo "Usage: $0 set_hostname HOSTNAME" >&2; exit 1; fi
  # What raspi-config's do_hostname does: /etc/hostname and the 127.0.1.1 line of /etc/hosts.
  echo "$1" > /etc/hostname
  if grep -q '^127\\.0\\.1\\.1[[:space:]]' /etc/hosts; then
    sed -i "s/^127\\.0\\.1\\.1[[:space:]].*/127.0.1.1\\t$1/" /etc/hosts
  else
    printf '127.0.1.1\\t%s\\n' "$1" >> /etc/hosts
  fi
}

add_ssh_key () {
  install -d -o "$FIRSTUSER" -g "$FIRSTUSER" -m 700 "$FIRSTUSERHOME/.ssh"
  echo "$1" >> "$FIRSTUSERHOME/.ssh/authorized_keys"
  chmod 600 "$FIRSTUSERHOME/.ssh/authorized_keys"
  chown "$FIRSTUSER:$FIRSTUSER" "$FIRSTUSERHOME/.ssh/authorized_keys"
}

enable_ssh () {
  ENABLE=1
  for arg in "$@"; do
    case "$arg" in
      -k|--key-only) sed -i 's/^[#[:space:]]*PasswordAuthentication[[:space:]].*$/PasswordAuthentication no/' /etc/ssh/sshd_config ;;
      -p|--pass-auth) sed -i 's/^[#[:space:]]*PasswordAuthentication[[:space:]].*$/PasswordAuthentication yes/' /etc/ssh/sshd_config ;;
      -d|--disabled) ENABLE=0 ;;
      *) add_ssh_key "$arg" ;;
    esac
  done
  # firstrun.sh reboots the board as soon as it ends: reloading systemd now (systemctl's reload and the two of
  # update-rc.d's, which the sysv script /etc/init.d/ssh brings in) costs half a minute of an emulated CPU
  # and changes nothing the next boot would not read anyway. The unit symlinks are the same.
  if [ "$ENABLE" = 1 ]; then SYSTEMCTL_SKIP_SYSV=1 systemctl -q --no-reload enable ssh; fi
}

if [ "$#" -eq 0 ]; then echo "No command specified" >&2; exit 1; fi
command="$1"; shift
case "$command" in
  set_hostname|enable_ssh) "$command" "$@" ;;
  set_wlan|set_wlan_country|set_keymap|set_timezone|import_ssh_id)
    echo "$command: not available on a synrace QEMU board image (no Wi-Fi, keyboard, tzdata or network at first boot)" >&2; exit 1 ;;
  *) echo "Unsupported command: $command" >&2; exit 1 ;;
esac
`;

export const USERCONF = `#!/bin/sh
# Equivalent of Raspberry Pi OS's userconf (userconf-pi): userconf [OLDUSER] NEWUSER ENCRYPTED_PASSWORD
# renames the first user (uid 1000) and its group, sets the password when one is given (empty keeps it
# locked), then cancels the first-boot rename.
if [ "$#" -eq 3 ]; then
  FIRSTUSER="$1"; FIRSTGROUP="$1"; shift
else
  FIRSTUSER="$(getent passwd 1000 | cut -d: -f1)"
  FIRSTGROUP="$(getent group 1000 | cut -d: -f1)"
fi
NEWNAME="$1"
NEWPASS="$2"

if [ "$FIRSTUSER" != "$NEWNAME" ]; then
  usermod -l "$NEWNAME" "$FIRSTUSER"
  usermod -m -d "/home/$NEWNAME" "$NEWNAME"
  groupmod -n "$NEWNAME" "$FIRSTGROUP"
  for file in /etc/subuid /etc/subgid; do
    [ -f "$file" ] && sed -i "s/^$FIRSTUSER:/$NEWNAME:/" "$file"
  done
  if [ -f /etc/sudoers.d/010_pi-nopasswd ]; then
    sed -i "s/^$FIRSTUSER /$NEWNAME /" /etc/sudoers.d/010_pi-nopasswd
  fi
fi

if [ -n "$NEWPASS" ]; then
  echo "$NEWNAME:$NEWPASS" | chpasswd -e
fi

/usr/bin/cancel-rename "$NEWNAME"
`;

export const CANCEL_RENAME = `#!/bin/sh
# Equivalent of Raspberry Pi OS's cancel-rename (userconf-pi) for an image without the desktop wizard:
# drops the rename-user sshd banner and the userconfig service, so the renamed user is final.
if [ "$(id -u)" != "0" ]; then echo "Please run with 'sudo': sudo cancel-rename USER" >&2; exit 1; fi
rm -f /var/lib/userconf-pi/autologin /etc/ssh/sshd_config.d/rename_user.conf
systemctl --quiet reload ssh 2>/dev/null || true
systemctl --quiet disable userconfig 2>/dev/null || true
exit 0
`;

/**
 * Bookworm's imager_fixup, run by the initramfs once the root is mounted: Imager still writes the
 * bullseye paths (/boot/firstrun.sh), so on the first boot this moves the hook to /boot/firmware, cuts the
 * script at its `rm ... firstrun.sh` line, appends the bookworm cleanup and reboots the board. The reboot
 * makes the firmware read cmdline.txt again; on a QEMU board that is the firmware process (qemu-firmware).
 */
export const IMAGER_FIXUP = `#!/bin/sh
# Equivalent of Raspberry Pi OS bookworm's initramfs local-bottom/imager_fixup (raspberrypi-sys-mods).
case "$1" in prereqs) exit 0 ;; esac
. /scripts/functions

grep -q 'systemd\\.run=/boot/firstrun\\.sh' /proc/cmdline || exit 0
BOOT_DEV="$(findmnt -n -o SOURCE -s -F "\${rootmnt}/etc/fstab" /boot/firmware)" || exit 0

log_begin_msg "Fixing firstrun.sh..."
mkdir -p /run/imager_fixup
mount -t vfat -o rw "$(resolve_device "$BOOT_DEV")" /run/imager_fixup
sed -i 's|/boot/|/boot/firmware/|g' /run/imager_fixup/cmdline.txt
sed -n -i '/rm.*firstrun\\.sh$/q;p' /run/imager_fixup/firstrun.sh
cat >> /run/imager_fixup/firstrun.sh << \\EOF
rm -f /boot/firmware/firstrun.sh
sed -i 's| systemd\\.[^ ]*||g' /boot/firmware/cmdline.txt
exit 0
EOF
umount /run/imager_fixup
rmdir /run/imager_fixup
log_end_msg

# No busybox reboot in this initramfs: the kernel's emergency reboot, after the FAT is written back.
sync
echo b > /proc/sysrq-trigger
sleep 5
exit 0
`;

/** Puts what imager_fixup needs into the initramfs, plus the drivers a QEMU board boots from. */
export const INITRAMFS_HOOK = `#!/bin/sh
# synrace QEMU board image: tools for imager_fixup and the virtio/FAT drivers, with MODULES=list.
case "$1" in prereqs) exit 0 ;; esac
. /usr/share/initramfs-tools/hook-functions
copy_exec /usr/bin/findmnt /bin
copy_exec /usr/bin/sed /bin
copy_exec /usr/bin/grep /bin
copy_exec /usr/bin/rmdir /bin
for module in virtio_pci virtio_blk virtio_net ext4 vfat nls_cp437 nls_ascii nls_utf8; do
  manual_add_modules "$module"
done
`;

export const INITRAMFS_CONF = `# synrace QEMU board image: only the listed modules (hooks/synrace-board), so the initrd is small and
# quick to build, also for a foreign architecture under qemu-user.
MODULES=list
COMPRESS=gzip
`;

export const REGENERATE_SSH_HOST_KEYS = `#!/bin/sh -e
# Equivalent of Raspberry Pi OS's regenerate_ssh_host_keys: every card gets its own host keys at first boot.
# Only ed25519, the key the lab pins: an RSA key costs minutes of an emulated CPU (ssh-keygen -A makes three).
if [ -c /dev/hwrng ]; then dd if=/dev/hwrng of=/dev/urandom count=1 bs=4096 status=none; fi
rm -f /etc/ssh/ssh_host_*_key*
ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
# The unit has run for this boot; only the next boot reads the removed link, so no reload of systemd.
systemctl -q --no-reload disable regenerate_ssh_host_keys
`;

export const REGENERATE_SSH_HOST_KEYS_SERVICE = `[Unit]
Description=Regenerate SSH host keys
Before=ssh.service synrace-host-keys-to-console.service
ConditionFileIsExecutable=/usr/bin/ssh-keygen

[Service]
Type=oneshot
ExecStart=/usr/lib/raspberrypi-sys-mods/regenerate_ssh_host_keys

[Install]
WantedBy=multi-user.target
`;

/** Start and end of the host key block on the console, in cloud-init's form, which tools already parse. */
export const HOST_KEYS_BEGIN = '-----BEGIN SSH HOST KEY KEYS-----';
export const HOST_KEYS_END = '-----END SSH HOST KEY KEYS-----';

/**
 * Not a Pi OS piece: prints the board's SSH host public keys on its serial console at every boot, so the
 * lab can pin a freshly flashed board's key from the console log (a path it owns) instead of trusting the
 * first SSH answer.
 */
export const HOST_KEYS_TO_CONSOLE_SERVICE = `[Unit]
Description=Print the SSH host keys on the serial console for pinning
# Before every getty (getty-pre.target): the login prompt, the lab's boot marker, then means the keys are
# in the console log already.
Wants=getty-pre.target
After=regenerate_ssh_host_keys.service
Before=ssh.service getty-pre.target
ConditionPathExists=/etc/ssh/ssh_host_ed25519_key.pub

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo "${HOST_KEYS_BEGIN}"; cat /etc/ssh/ssh_host_ed25519_key.pub; echo "${HOST_KEYS_END}"'
StandardOutput=tty
TTYPath=/dev/console

[Install]
WantedBy=multi-user.target
`;

/** The Pi OS helpers and the units around them, at their Pi OS paths. */
export function piOsHelperFiles(): RootFile[] {
  return [
    { path: '/usr/lib/raspberrypi-sys-mods/imager_custom', content: IMAGER_CUSTOM, mode: 0o755 },
    { path: '/usr/lib/raspberrypi-sys-mods/regenerate_ssh_host_keys', content: REGENERATE_SSH_HOST_KEYS, mode: 0o755 },
    { path: '/usr/lib/userconf-pi/userconf', content: USERCONF, mode: 0o755 },
    { path: '/usr/bin/cancel-rename', content: CANCEL_RENAME, mode: 0o755 },
    { path: '/etc/systemd/system/regenerate_ssh_host_keys.service', content: REGENERATE_SSH_HOST_KEYS_SERVICE, mode: 0o644 },
    { path: '/etc/systemd/system/synrace-host-keys-to-console.service', content: HOST_KEYS_TO_CONSOLE_SERVICE, mode: 0o644 },
  ];
}

/** Files that must be in the root before the kernel package builds its initramfs. */
export function initramfsFiles(): RootFile[] {
  return [
    { path: '/etc/initramfs-tools/conf.d/synrace-board.conf', content: INITRAMFS_CONF, mode: 0o644 },
    { path: '/etc/initramfs-tools/hooks/synrace-board', content: INITRAMFS_HOOK, mode: 0o755 },
    { path: '/etc/initramfs-tools/scripts/local-bottom/imager_fixup', content: IMAGER_FIXUP, mode: 0o755 },
  ];
}

/** The board's host key lines from console text between the markers (the last block wins: latest boot). */
export function hostKeysFromConsole(lines: string[]): string[] {
  let current: string[] | undefined;
  let last: string[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    // The kernel writes to the same UART, so its messages can share a line with a marker or a key
    // ("-----END SSH HOST KEY KEYS-----[   79.44] SVM: ...", seen when a guest loaded kvm_amd).
    if (line.includes(HOST_KEYS_BEGIN)) current = [];
    else if (line.includes(HOST_KEYS_END) && current !== undefined) {
      last = current;
      current = undefined;
    } else if (current !== undefined) {
      const key = /(ssh-[a-z0-9-]+|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+( [^\s[]+)?/.exec(line);
      if (key) current.push(key[0]);
    }
  }
  return last;
}
