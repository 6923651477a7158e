export { useLab, leftoversOf } from './lab-fixture';
export { startCli, runCli, waitForStderr, SYNRACE_JS } from './cli';
