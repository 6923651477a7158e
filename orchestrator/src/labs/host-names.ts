import { createHash } from 'node:crypto';
import { join } from 'node:path';

/**
 * The names a lab gives host objects. Namespaces carry the lab's name (`synrace-<lab>.<board>`; a dot is
 * in neither a lab nor a board name, so no two labs' names can meet). Host interfaces have only 15
 * characters, so theirs carry a short id derived from the name (`sr<id>…`).
 */
export class LabHostNames {
  readonly id: string;
  readonly netnsPrefix: string;

  constructor(readonly lab: string) {
    this.id = createHash('sha256').update(lab).digest('hex').slice(0, 5);
    this.netnsPrefix = `synrace-${lab}.`;
  }

  boardNetns(board: string): string {
    return `${this.netnsPrefix}${board}`;
  }

  /** Infrastructure namespaces start with `_`, which no board name may. */
  lanNetns(index: number): string {
    return `${this.netnsPrefix}_lan${index}`;
  }

  get wanNetns(): string {
    return `${this.netnsPrefix}_wan`;
  }

  /** A VM lab's one namespace: its bridges, the boards' TAPs, and the QEMUs that use them. */
  get vmNetns(): string {
    return `${this.netnsPrefix}_vm`;
  }

  get mgmtBridge(): string {
    return `sr${this.id}mgmt`;
  }

  mgmtHostLink(index: number): string {
    return `sr${this.id}m${index}`;
  }

  /** Host links of this lab, by name: the bridge and the host ends of the boards' management links. */
  ownsLink(ifname: string): boolean {
    return ifname === this.mgmtBridge || new RegExp(`^sr${this.id}m\\d+$`).test(ifname);
  }
}

/**
 * Where a VM lab keeps its boards' disk files: on disk, since the run directory is tmpfs and a board's disk
 * is its whole SD card. $SYNRACE_DISK_DIR moves it.
 */
export function labDiskDir(lab: string): string {
  return join(process.env.SYNRACE_DISK_DIR ?? '/var/lib/synrace/disks', lab);
}
