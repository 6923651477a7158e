// What tests of hardware drivers need around them: temp folders, child processes, a pty null-modem
// cable, undo lists. Exported as @synrace/hardware/testing for every package that tests against drivers.
export { Cleanup } from './cleanup';
export { exited, stopProcess, freeLoopbackPort } from './processes';
export { startPtyPair } from './pty-pair';
export { makeTempDir, removeTempDir } from './temp-dir';
export { collectUntil, eventually, collectFor, readToEnd } from './streams';
export { skipBecause } from './skip';
