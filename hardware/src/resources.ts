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
