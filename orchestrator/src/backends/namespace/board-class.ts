import { renderBootScript, type BootRenderer } from './boot-script';

/**
 * What kind of machine a namespace board plays (as Mininet takes a host class): its boot, and who owns
 * its serial line. A virtual board's line is logged by the lab's own console server; a stand-in for a
 * physical board leaves its line bare, for the console server of the hardware lab that drives it.
 */
export interface NamespaceBoardClass {
  renderBoot: BootRenderer;
  serialLines: 'logged' | 'bare';
}

export const VIRTUAL_BOARD: NamespaceBoardClass = { renderBoot: renderBootScript, serialLines: 'logged' };
