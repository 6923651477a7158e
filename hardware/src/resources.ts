// Resources describe what a board has (labgrid-style): plain data, loaded from
// an inventory or produced by the virtual backend. Drivers in ./drivers know
// how to use them.

/** A serial console, e.g. a USB adapter (prefer /dev/serial/by-id/...) or a pty. */
export interface SerialConsoleResource {
  path: string;
  baudRate: number;
}

/** A relay on a GPIO line that switches the board's power. */
export interface PowerRelayResource {
  /** BCM pin number, not the sysfs number (that is gpiochip base + pin). */
  bcmPin: number;
  /** True when driving the line low closes the relay. */
  activeLow: boolean;
}

/** How to log in to the board over SSH. */
export interface SshEndpoint {
  host: string;
  port: number;
  user: string;
  privateKeyPath: string;
  /** The board's pinned host public key, one OpenSSH line: "ssh-ed25519 AAAA... [comment]". */
  hostKey: string;
}

/** The block device the board's SD card appears as when it is in the flashing reader. */
export interface SdCardResource {
  device: string;
  /** Serial number of the card reader, to refuse flashing a different device at the same path. */
  serial?: string;
}

/** A network interface of the board. */
export interface NetworkInterfaceResource {
  name: string;
  /** CIDR address, e.g. "10.0.1.2/24". */
  address?: string;
}

/** A virtio NIC of a QEMU board, on a host TAP device that the caller creates and plugs into a bridge. */
export interface QemuNicResource {
  tap: string;
  /** e.g. "52:54:00:12:34:56"; the guest names its NICs eth0, eth1, ... in this order. */
  mac: string;
}

/** A board that is a QEMU machine booted from its (flashed) disk file, like a Pi from its SD card. */
export interface QemuMachineResource {
  name: string;
  arch: 'amd64' | 'arm64';
  memoryMiB: number;
  cpus: number;
  /** Raw disk image file: the board's SD card. */
  disk: string;
  nics: QemuNicResource[];
  /** Stable path of the board's serial line (a pty link), for the console server. */
  serialPath: string;
  /** QEMU's QMP socket, for power. */
  qmpPath: string;
  /** The board's own directory: firmware log and pid, QEMU pid, the kernel read from the disk, sockets. */
  stateDir: string;
  /** Accelerator: 'auto' (default) uses KVM where a probe guest really boots on it, else TCG. */
  accel?: 'auto' | 'kvm' | 'tcg';
  /** The network namespace (in /run/netns) that holds its TAPs, where QEMU runs; the host's when absent. */
  netns?: string;
}
